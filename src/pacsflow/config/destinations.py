"""The destinations section: each kind of destination and its options.

The network file writes a destination as ``{kind: {options}}``;
:func:`_unwrap_destination` turns that into the options tagged with their ``kind``,
from which pydantic picks the class.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    WrapSerializer,
    field_validator,
    model_validator,
)

from pacsflow.config.fields import (
    _AbsolutePath,
    _AETitle,
    _dump_mapping,
    _freeze,
    _Name,
    _Text,
)
from pacsflow.config.problems import _show, _suggest
from pacsflow.config.sections import _Frozen
from pacsflow.config.throttle import ThrottleOptions


class QueryAddress(_Frozen):
    """Where a DICOM destination answers C-FIND, when not where it stores."""

    host: _Text | None = None
    """Host of the query/retrieve SCP; default the destination's host."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """Its port; default the destination's port."""
    ae_title: _AETitle | None = None
    """Its AE title; default the destination's AE title."""


class StorageCommitment(_Frozen):
    """Storage commitment (Push Model) of what was sent, asked by ``pacsflow verify``.

    After its C-FIND check, verify asks the destination by N-ACTION to take
    responsibility for every instance sent to it, and listens on ``port`` for the
    N-EVENT-REPORTs that answer.
    """

    port: int = Field(ge=1, le=65535)
    """pacsflow's own TCP port, where the destination sends its N-EVENT-REPORTs."""
    ae_title: _AETitle | None = None
    """The AE title pacsflow answers as on that port; default calling_ae_title."""
    bind: _Text = "0.0.0.0"
    """The local address to listen on; default every interface, 0.0.0.0."""
    timeout: float = Field(default=300, gt=0)
    """Seconds to wait, after the last request, for every report to arrive."""
    batch: int = Field(default=1000, ge=1)
    """Most instances one N-ACTION request (one transaction) refers to."""


class TlsOptions(_Frozen):
    """DICOM over TLS (1.2 or newer), the peer's certificate always verified."""

    ca: _AbsolutePath | None = None
    """PEM file of the certificates that may sign the peer's; default the system's."""
    cert: _AbsolutePath | None = None
    """PEM file of pacsflow's own certificate, for peers that ask for one."""
    key: _AbsolutePath | None = None
    """PEM file of the private key of ``cert``."""
    verify_hostname: bool = True
    """Whether the peer's certificate must name the host pacsflow connects to."""

    @model_validator(mode="after")
    def _cert_with_key(self) -> TlsOptions:
        """A certificate needs its key, and a key its certificate."""
        if (self.cert is None) != (self.key is None):
            raise ValueError("give tls.cert and tls.key together, or neither")
        return self


class DicomDestination(_Frozen):
    """A DICOM storage SCP that receives instances by C-STORE."""

    kind: Literal["dicom"] = "dicom"
    host: _Text
    """Host name or IP address of the peer."""
    port: int = Field(ge=1, le=65535)
    """TCP port of the peer, 1-65535."""
    ae_title: _AETitle
    """The peer's AE title."""
    calling_ae_title: _AETitle = "PACSFLOW"
    """pacsflow's own AE title."""
    associations: int = Field(default=1, ge=1)
    """Associations kept open to the peer in parallel."""
    max_pdu: int = Field(default=0, ge=0, le=2**32 - 1)
    """Largest PDU accepted in bytes: 0 for no limit, else at least 4096."""
    acse_timeout: float = Field(default=30, gt=0)
    """Seconds to wait for an association to be set up or released."""
    dimse_timeout: float = Field(default=60, gt=0)
    """Seconds to wait for the reply to a DIMSE message."""
    network_timeout: float = Field(default=60, gt=0)
    """Seconds an idle connection may stay silent."""
    query: QueryAddress = QueryAddress()
    """Where ``pacsflow verify`` sends C-FIND; default the store address."""
    tls: TlsOptions | None = None
    """Speak DICOM over TLS, as {ca, cert, key, verify_hostname}; default plain TCP."""
    throttle: ThrottleOptions | None = None
    """Rate limits over all of its associations, as {images_per_second,
    mb_per_second, windows, slow_after}; default none."""
    storage_commitment: StorageCommitment | None = None
    """Ask for storage commitment in ``pacsflow verify``; default not asked."""

    @field_validator("max_pdu")
    @classmethod
    def _check_max_pdu(cls, value: int) -> int:
        """Refuse a PDU limit too small to carry a C-STORE."""
        if 0 < value < 4096:
            raise ValueError(
                f"max_pdu {value} is too small; write 0 for no limit or at least 4096"
            )
        return value


class FolderDestination(_Frozen):
    """A folder that receives instances as DICOM files."""

    kind: Literal["folder"] = "folder"
    path: _AbsolutePath
    """The folder, absolute or relative to the network file."""
    throttle: ThrottleOptions | None = None
    """Rate limits over all of the run's workers, as {images_per_second,
    mb_per_second, windows}; default none."""

    @field_validator("throttle")
    @classmethod
    def _no_slow_after(cls, value: ThrottleOptions | None) -> ThrottleOptions | None:
        """Refuse back-off on slow answers: a folder gives no answer to time."""
        if value is not None and value.slow_after is not None:
            raise ValueError(
                "slow_after times a DICOM destination's answers to C-STORE and does "
                "not apply to a folder destination; remove it, or use "
                "images_per_second and mb_per_second to spare the disk"
            )
        return value


class TerminatorDestination(_Frozen):
    """A destination that accepts instances and drops them."""

    kind: Literal["terminator"] = "terminator"


Destination: TypeAlias = DicomDestination | FolderDestination | TerminatorDestination
"""Any destination; tell them apart by their ``kind``."""

_DESTINATION_TYPES = (DicomDestination, FolderDestination, TerminatorDestination)
_DESTINATION_KINDS = tuple(
    cls.model_fields["kind"].default for cls in _DESTINATION_TYPES
)


def _unwrap_destination(value: object) -> object:
    """Turn ``{kind: {options}}`` into the options tagged with their kind."""
    kinds = ", ".join(_DESTINATION_KINDS)
    if isinstance(value, BaseModel):
        return value
    if not isinstance(value, Mapping):
        raise ValueError(
            f"expected a mapping with one of {kinds} as its only key, such as "
            f"{{folder: {{path: /srv/out}}}}; got {_show(value)}"
        )

    unknown = [key for key in value if key not in _DESTINATION_KINDS]
    if unknown:
        raise ValueError(
            _suggest(
                f"unknown destination kind {unknown[0]!r}",
                str(unknown[0]),
                _DESTINATION_KINDS,
                f"the known kinds are {kinds}",
            )
        )
    if len(value) != 1:
        given = ", ".join(value) or "none"
        raise ValueError(
            f"a destination has exactly one kind, one of {kinds}; got {given}"
        )

    ((kind, options),) = value.items()
    options = {} if options is None else options
    if not isinstance(options, Mapping):
        raise ValueError(f"{kind}: expected a mapping of options; got {_show(options)}")
    if "kind" in options:
        raise ValueError(f"{kind}: unknown key 'kind'; the kind is the key above")
    return {**options, "kind": kind}


_DestinationEntry = Annotated[
    Destination, Field(discriminator="kind"), BeforeValidator(_unwrap_destination)
]
_Destinations = Annotated[
    Mapping[_Name, _DestinationEntry],
    AfterValidator(_freeze),
    WrapSerializer(_dump_mapping),
]
