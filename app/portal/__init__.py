"""Worker-facing pages: click-to-call, complaints, follow a case."""
