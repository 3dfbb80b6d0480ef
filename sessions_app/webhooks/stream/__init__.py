"""The live event stream: a user's events over Server-Sent Events, resumable by event id."""

# Where the stream process serves it (README "Live event stream").
STREAM_PATH = "/api/v1/events/stream"
