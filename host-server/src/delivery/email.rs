//! Mail through the operator's SMTP server (`--smtp-url`): `smtp://host:port` (plain, for a local
//! relay), `smtp://user:pass@host:587?tls=required` (STARTTLS), `smtps://user:pass@host:465`
//! (TLS). One transport for the server, pooled connections.

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor, message::Mailbox,
    message::header::ContentType,
};

use crate::error::{AppError, Result};

/// Sends the server's mail.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// A mailer for the SMTP server at `url`, sending as `from` (`Name <address>`).
    pub fn new(url: &str, from: &str) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| anyhow::anyhow!("--smtp-url: {e}"))?
            .build();
        let from = from.parse().map_err(|e| anyhow::anyhow!("--smtp-from: {e}"))?;
        Ok(Mailer { transport, from })
    }

    /// Sends a plain-text message to `to`.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<()> {
        let to: Mailbox =
            to.parse().map_err(|_| AppError::invalid(format!("{to:?} is not a mail address")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("building a message: {e}")))?;
        self.transport
            .send(message)
            .await
            .map_err(|e| AppError::Internal(anyhow::anyhow!("sending mail: {e}")))?;
        Ok(())
    }
}
