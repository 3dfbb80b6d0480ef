"""A session's chats and presence: the node's history by chat, reads, flags, presence."""
