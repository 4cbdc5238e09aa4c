"""Tracked mail: signed pixel and link tokens, open/click classification, the tracked send.

Modules: ``tokens`` (HMAC-signed ids), ``classify`` (machine or human, with the reason),
``html`` (pixel insertion and link rewriting), ``record`` (store a hit and emit its event),
``mailer`` (send through Graph with tracking, exactly once per intent).
"""
