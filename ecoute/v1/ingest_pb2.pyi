from ecoute.v1 import message_pb2 as _message_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IngestBatch(_message.Message):
    __slots__ = ("messages",)
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[_message_pb2.NormalizedMessage]
    def __init__(self, messages: _Optional[_Iterable[_Union[_message_pb2.NormalizedMessage, _Mapping]]] = ...) -> None: ...

class IngestItemResult(_message.Message):
    __slots__ = ("index", "external_id", "status", "message_id", "conversation_id")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    index: int
    external_id: str
    status: str
    message_id: int
    conversation_id: int
    def __init__(self, index: _Optional[int] = ..., external_id: _Optional[str] = ..., status: _Optional[str] = ..., message_id: _Optional[int] = ..., conversation_id: _Optional[int] = ...) -> None: ...

class IngestResult(_message.Message):
    __slots__ = ("stored", "duplicates", "items")
    STORED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    stored: int
    duplicates: int
    items: _containers.RepeatedCompositeFieldContainer[IngestItemResult]
    def __init__(self, stored: _Optional[int] = ..., duplicates: _Optional[int] = ..., items: _Optional[_Iterable[_Union[IngestItemResult, _Mapping]]] = ...) -> None: ...
