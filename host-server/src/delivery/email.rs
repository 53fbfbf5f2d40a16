//! Mail through the operator's SMTP server (`--smtp-url`): `smtp://host:port` (plain, for a local
//! relay), `smtp://user:pass@host:587?tls=required` (STARTTLS), `smtps://user:pass@host:465`
//! (TLS). One transport for the server, pooled connections.

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{
        Attachment, Body, Mailbox, MultiPart, SinglePart,
        header::{ContentTransferEncoding, ContentType},
    },
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

    /// Sends one plain-text message to every address of `to`, with an optional attachment
    /// (file name, content type, bytes): alert notifications and report exports.
    pub async fn send_to_all(
        &self,
        to: &[String],
        subject: &str,
        body: String,
        attachment: Option<(&str, &str, Vec<u8>)>,
    ) -> Result<()> {
        let mut builder = Message::builder().from(self.from.clone()).subject(subject);
        for address in to {
            let mailbox: Mailbox = address
                .parse()
                .map_err(|_| AppError::invalid(format!("{address:?} is not a mail address")))?;
            builder = builder.to(mailbox);
        }
        let message = match attachment {
            None => builder.header(ContentType::TEXT_PLAIN).body(body),
            Some((name, content_type, bytes)) => {
                let content_type = ContentType::parse(content_type)
                    .map_err(|e| AppError::Internal(anyhow::anyhow!("attachment type: {e}")))?;
                // Base64 whatever the bytes: raw lines may be long or end in a bare LF.
                let bytes = Body::new_with_encoding(bytes, ContentTransferEncoding::Base64)
                    .map_err(|_| AppError::Internal(anyhow::anyhow!("encoding an attachment")))?;
                builder.multipart(
                    MultiPart::mixed()
                        .singlepart(SinglePart::plain(body))
                        .singlepart(Attachment::new(name.to_owned()).body(bytes, content_type)),
                )
            }
        }
        .map_err(|e| AppError::Internal(anyhow::anyhow!("building a message: {e}")))?;
        self.transport
            .send(message)
            .await
            .map_err(|e| AppError::Internal(anyhow::anyhow!("sending mail: {e}")))?;
        Ok(())
    }
}

/// Whether `address` is a mail address the mailer can send to.
pub fn is_address(address: &str) -> bool {
    address.len() <= 254 && address.parse::<lettre::Address>().is_ok()
}
