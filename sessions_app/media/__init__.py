"""Media: files users send and sessions receive, read from URLs, base64 or uploads, checked for
type and size, kept in the media storage and served to their owner (and to nodes)."""
