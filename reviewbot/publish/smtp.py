"""Send replies over SMTP (STARTTLS, SMTPS or a plain local relay) with :mod:`smtplib`.

One connection serves a whole flush. A server that cannot be reached or
answers 4xx is a temporary failure (the reply stays pending); a 5xx answer to
the sender, the data or every recipient is permanent. The password is only
handed to ``SMTP.login`` and never appears in a message or log.
"""

from __future__ import annotations

import contextlib
import logging
import re
import smtplib
import ssl

from reviewbot.botconfig import SmtpSettings
from reviewbot.publish import SendError

log = logging.getLogger(__name__)
_BARE_LF_RE = re.compile(rb"(?<!\r)\n")


def crlf(raw: bytes) -> bytes:
    """Line ends as SMTP wants them (no bare LF)."""
    return _BARE_LF_RE.sub(b"\r\n", raw)


class SmtpTransport:
    """Delivers replies to an SMTP server."""

    name = "smtp"
    final_status = "sent"

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._conn: smtplib.SMTP | None = None

    def _context(self) -> ssl.SSLContext:
        cafile = self.settings.ca_file or None
        return ssl.create_default_context(cafile=cafile)

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            conn: smtplib.SMTP
            if s.security == "ssl":
                conn = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout,
                                        context=self._context())
            else:
                conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                conn.ehlo()
                if s.security == "starttls":
                    conn.starttls(context=self._context())
                    conn.ehlo()
            if s.username:
                conn.login(s.username, s.secret())
        except smtplib.SMTPAuthenticationError as exc:
            raise SendError(f"SMTP login as {s.username} refused ({exc.smtp_code})") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise SendError(f"SMTP server {s.host}:{s.port}: {exc}") from None
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise SendError(f"SMTP server {s.host}:{s.port} unreachable: "
                            f"{type(exc).__name__}: {exc}") from None
        return conn

    def send(self, raw: bytes, sender: str, recipients: list[str], message_id: str) -> None:
        """Send one mail; raise SendError (temporary or permanent) when it was not taken."""
        if not recipients:
            raise SendError("no recipients", permanent=True)
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = self._connect()
            try:
                refused = self._conn.sendmail(sender, recipients, crlf(raw))
            except smtplib.SMTPServerDisconnected as exc:
                self._conn = None
                if attempt == 2:
                    raise SendError(f"SMTP server disconnected: {exc}") from None
                continue
            except smtplib.SMTPRecipientsRefused as exc:
                codes = [code for code, _ in exc.recipients.values()]
                permanent = all(code >= 500 for code in codes)
                raise SendError(f"every recipient refused ({sorted(set(codes))})",
                                permanent=permanent) from None
            except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
                raise SendError(f"SMTP refused the mail: {exc.smtp_code}",
                                permanent=exc.smtp_code >= 500) from None
            except (smtplib.SMTPException, OSError) as exc:
                self._drop()
                raise SendError(f"SMTP failed: {type(exc).__name__}: {exc}") from None
            if refused:
                log.warning("%s: some recipients refused: %s", message_id, sorted(refused))
            return

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()

    def close(self) -> None:
        """QUIT and close the connection."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            with contextlib.suppress(OSError):
                conn.close()
