import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from ecoute.v1 import message_pb2 as _message_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MessageIngested(_message.Message):
    __slots__ = ("workspace_id", "message_id", "conversation_id", "channel_id", "author_id", "message", "received_at")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    message_id: int
    conversation_id: int
    channel_id: int
    author_id: int
    message: _message_pb2.NormalizedMessage
    received_at: _timestamp_pb2.Timestamp
    def __init__(self, workspace_id: _Optional[str] = ..., message_id: _Optional[int] = ..., conversation_id: _Optional[int] = ..., channel_id: _Optional[int] = ..., author_id: _Optional[int] = ..., message: _Optional[_Union[_message_pb2.NormalizedMessage, _Mapping]] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ConversationTriaged(_message.Message):
    __slots__ = ("workspace_id", "conversation_id", "message_id", "needs_answer", "intent", "abuse", "priority", "reasons", "model_version", "decided_at")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    NEEDS_ANSWER_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    ABUSE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    conversation_id: int
    message_id: int
    needs_answer: bool
    intent: str
    abuse: bool
    priority: int
    reasons: _containers.RepeatedScalarFieldContainer[str]
    model_version: str
    decided_at: _timestamp_pb2.Timestamp
    def __init__(self, workspace_id: _Optional[str] = ..., conversation_id: _Optional[int] = ..., message_id: _Optional[int] = ..., needs_answer: _Optional[bool] = ..., intent: _Optional[str] = ..., abuse: _Optional[bool] = ..., priority: _Optional[int] = ..., reasons: _Optional[_Iterable[str]] = ..., model_version: _Optional[str] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReplyRequested(_message.Message):
    __slots__ = ("workspace_id", "reply_id", "conversation_id", "in_reply_to_message_id", "text", "agent_id", "requested_at", "template", "private")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    REPLY_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    IN_REPLY_TO_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    PRIVATE_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    reply_id: str
    conversation_id: int
    in_reply_to_message_id: int
    text: str
    agent_id: str
    requested_at: _timestamp_pb2.Timestamp
    template: MessageTemplate
    private: bool
    def __init__(self, workspace_id: _Optional[str] = ..., reply_id: _Optional[str] = ..., conversation_id: _Optional[int] = ..., in_reply_to_message_id: _Optional[int] = ..., text: _Optional[str] = ..., agent_id: _Optional[str] = ..., requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., template: _Optional[_Union[MessageTemplate, _Mapping]] = ..., private: _Optional[bool] = ...) -> None: ...

class MessageTemplate(_message.Message):
    __slots__ = ("name", "language")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    name: str
    language: str
    def __init__(self, name: _Optional[str] = ..., language: _Optional[str] = ...) -> None: ...

class ReplyDelivered(_message.Message):
    __slots__ = ("workspace_id", "reply_id", "conversation_id", "platform_message_id", "delivered_at")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    REPLY_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_AT_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    reply_id: str
    conversation_id: int
    platform_message_id: str
    delivered_at: _timestamp_pb2.Timestamp
    def __init__(self, workspace_id: _Optional[str] = ..., reply_id: _Optional[str] = ..., conversation_id: _Optional[int] = ..., platform_message_id: _Optional[str] = ..., delivered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReplyFailed(_message.Message):
    __slots__ = ("workspace_id", "reply_id", "conversation_id", "reason", "detail", "retryable", "failed_at")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    REPLY_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    FAILED_AT_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    reply_id: str
    conversation_id: int
    reason: str
    detail: str
    retryable: bool
    failed_at: _timestamp_pb2.Timestamp
    def __init__(self, workspace_id: _Optional[str] = ..., reply_id: _Optional[str] = ..., conversation_id: _Optional[int] = ..., reason: _Optional[str] = ..., detail: _Optional[str] = ..., retryable: _Optional[bool] = ..., failed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ModerationRequested(_message.Message):
    __slots__ = ("workspace_id", "action_id", "conversation_id", "message_id", "action", "requested_by", "reason", "requested_at")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    action_id: str
    conversation_id: int
    message_id: int
    action: str
    requested_by: str
    reason: str
    requested_at: _timestamp_pb2.Timestamp
    def __init__(self, workspace_id: _Optional[str] = ..., action_id: _Optional[str] = ..., conversation_id: _Optional[int] = ..., message_id: _Optional[int] = ..., action: _Optional[str] = ..., requested_by: _Optional[str] = ..., reason: _Optional[str] = ..., requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ModerationSettled(_message.Message):
    __slots__ = ("workspace_id", "action_id", "conversation_id", "message_id", "action", "done", "reason", "detail", "settled_at")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    SETTLED_AT_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    action_id: str
    conversation_id: int
    message_id: int
    action: str
    done: bool
    reason: str
    detail: str
    settled_at: _timestamp_pb2.Timestamp
    def __init__(self, workspace_id: _Optional[str] = ..., action_id: _Optional[str] = ..., conversation_id: _Optional[int] = ..., message_id: _Optional[int] = ..., action: _Optional[str] = ..., done: _Optional[bool] = ..., reason: _Optional[str] = ..., detail: _Optional[str] = ..., settled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SlaStateChanged(_message.Message):
    __slots__ = ("workspace_id", "conversation_id", "clock_id", "clock_kind", "priority", "state", "started_at", "due_at", "crossed_at", "raised_at", "target_seconds")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    CLOCK_ID_FIELD_NUMBER: _ClassVar[int]
    CLOCK_KIND_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    DUE_AT_FIELD_NUMBER: _ClassVar[int]
    CROSSED_AT_FIELD_NUMBER: _ClassVar[int]
    RAISED_AT_FIELD_NUMBER: _ClassVar[int]
    TARGET_SECONDS_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    conversation_id: int
    clock_id: int
    clock_kind: str
    priority: int
    state: str
    started_at: _timestamp_pb2.Timestamp
    due_at: _timestamp_pb2.Timestamp
    crossed_at: _timestamp_pb2.Timestamp
    raised_at: _timestamp_pb2.Timestamp
    target_seconds: int
    def __init__(self, workspace_id: _Optional[str] = ..., conversation_id: _Optional[int] = ..., clock_id: _Optional[int] = ..., clock_kind: _Optional[str] = ..., priority: _Optional[int] = ..., state: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., due_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., crossed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., raised_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., target_seconds: _Optional[int] = ...) -> None: ...

class Identity(_message.Message):
    __slots__ = ("platform", "author_id", "handle")
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_ID_FIELD_NUMBER: _ClassVar[int]
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    platform: str
    author_id: str
    handle: str
    def __init__(self, platform: _Optional[str] = ..., author_id: _Optional[str] = ..., handle: _Optional[str] = ...) -> None: ...

class ErasureRequested(_message.Message):
    __slots__ = ("workspace_id", "request_id", "identities", "requested_at")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTITIES_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    request_id: str
    identities: _containers.RepeatedCompositeFieldContainer[Identity]
    requested_at: _timestamp_pb2.Timestamp
    def __init__(self, workspace_id: _Optional[str] = ..., request_id: _Optional[str] = ..., identities: _Optional[_Iterable[_Union[Identity, _Mapping]]] = ..., requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ErasureDone(_message.Message):
    __slots__ = ("workspace_id", "request_id", "message_ids", "authors", "done_at")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_IDS_FIELD_NUMBER: _ClassVar[int]
    AUTHORS_FIELD_NUMBER: _ClassVar[int]
    DONE_AT_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    request_id: str
    message_ids: _containers.RepeatedScalarFieldContainer[int]
    authors: int
    done_at: _timestamp_pb2.Timestamp
    def __init__(self, workspace_id: _Optional[str] = ..., request_id: _Optional[str] = ..., message_ids: _Optional[_Iterable[int]] = ..., authors: _Optional[int] = ..., done_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ConversationsPurged(_message.Message):
    __slots__ = ("workspace_id", "conversation_ids", "purged_at")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_IDS_FIELD_NUMBER: _ClassVar[int]
    PURGED_AT_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    conversation_ids: _containers.RepeatedScalarFieldContainer[int]
    purged_at: _timestamp_pb2.Timestamp
    def __init__(self, workspace_id: _Optional[str] = ..., conversation_ids: _Optional[_Iterable[int]] = ..., purged_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class IncidentChanged(_message.Message):
    __slots__ = ("workspace_id", "incident_id", "change", "kind", "status", "message_count", "other_incident_id", "conversation_ids", "user_id", "close_reason", "changed_at")
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_COUNT_FIELD_NUMBER: _ClassVar[int]
    OTHER_INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_IDS_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    CLOSE_REASON_FIELD_NUMBER: _ClassVar[int]
    CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    workspace_id: str
    incident_id: int
    change: str
    kind: str
    status: str
    message_count: int
    other_incident_id: int
    conversation_ids: _containers.RepeatedScalarFieldContainer[int]
    user_id: str
    close_reason: str
    changed_at: _timestamp_pb2.Timestamp
    def __init__(self, workspace_id: _Optional[str] = ..., incident_id: _Optional[int] = ..., change: _Optional[str] = ..., kind: _Optional[str] = ..., status: _Optional[str] = ..., message_count: _Optional[int] = ..., other_incident_id: _Optional[int] = ..., conversation_ids: _Optional[_Iterable[int]] = ..., user_id: _Optional[str] = ..., close_reason: _Optional[str] = ..., changed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
