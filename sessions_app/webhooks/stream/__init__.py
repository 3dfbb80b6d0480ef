"""The live event stream: a user's events over Server-Sent Events, resumable by event id."""
