"""The Twilio Voice edge: signed webhooks, TwiML, click-to-call, call log (issue: Twilio Voice edge)."""
