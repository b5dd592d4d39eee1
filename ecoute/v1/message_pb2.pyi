import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Platform(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLATFORM_UNSPECIFIED: _ClassVar[Platform]
    PLATFORM_X: _ClassVar[Platform]
    PLATFORM_FACEBOOK: _ClassVar[Platform]
    PLATFORM_INSTAGRAM: _ClassVar[Platform]
    PLATFORM_MESSENGER: _ClassVar[Platform]
    PLATFORM_MASTODON: _ClassVar[Platform]
    PLATFORM_BLUESKY: _ClassVar[Platform]
    PLATFORM_OTHER: _ClassVar[Platform]
    PLATFORM_WHATSAPP: _ClassVar[Platform]
    PLATFORM_THREADS: _ClassVar[Platform]
    PLATFORM_YOUTUBE: _ClassVar[Platform]
PLATFORM_UNSPECIFIED: Platform
PLATFORM_X: Platform
PLATFORM_FACEBOOK: Platform
PLATFORM_INSTAGRAM: Platform
PLATFORM_MESSENGER: Platform
PLATFORM_MASTODON: Platform
PLATFORM_BLUESKY: Platform
PLATFORM_OTHER: Platform
PLATFORM_WHATSAPP: Platform
PLATFORM_THREADS: Platform
PLATFORM_YOUTUBE: Platform

class Author(_message.Message):
    __slots__ = ("external_id", "handle", "display_name")
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    external_id: str
    handle: str
    display_name: str
    def __init__(self, external_id: _Optional[str] = ..., handle: _Optional[str] = ..., display_name: _Optional[str] = ...) -> None: ...

class NormalizedMessage(_message.Message):
    __slots__ = ("platform", "channel", "external_id", "kind", "direction", "author", "text", "created_at", "in_reply_to", "thread_id", "lang", "raw", "held")
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    IN_REPLY_TO_FIELD_NUMBER: _ClassVar[int]
    THREAD_ID_FIELD_NUMBER: _ClassVar[int]
    LANG_FIELD_NUMBER: _ClassVar[int]
    RAW_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    platform: str
    channel: str
    external_id: str
    kind: str
    direction: str
    author: Author
    text: str
    created_at: _timestamp_pb2.Timestamp
    in_reply_to: str
    thread_id: str
    lang: str
    raw: _struct_pb2.Struct
    held: bool
    def __init__(self, platform: _Optional[str] = ..., channel: _Optional[str] = ..., external_id: _Optional[str] = ..., kind: _Optional[str] = ..., direction: _Optional[str] = ..., author: _Optional[_Union[Author, _Mapping]] = ..., text: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., in_reply_to: _Optional[str] = ..., thread_id: _Optional[str] = ..., lang: _Optional[str] = ..., raw: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., held: _Optional[bool] = ...) -> None: ...
