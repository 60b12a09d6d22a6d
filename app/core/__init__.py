"""Cross-cutting pieces with no domain: time, phone numbers, PII crypto, audit, jobs, realtime."""
