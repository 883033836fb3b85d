//! What the server itself says it is, over a replication connection: `IDENTIFY_SYSTEM` (the
//! system identifier and the timeline the server is on: a primary's insert timeline, a standby's
//! replay timeline) and `TIMELINE_HISTORY` (that timeline's history file, from the server). The
//! newest history file in `pg_wal/` is not this: a history file restored from an archive can
//! name a timeline the server never followed.
//!
//! The `postgres` crate has no replication mode, so this speaks the few messages it needs with
//! `postgres-protocol`: startup with `replication=true`, password / MD5 / SCRAM-SHA-256
//! authentication, and simple queries. TLS is not spoken: a conninfo that requires it is refused.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use bytes::BytesMut;
use postgres::config::{Host, SslMode};
use postgres_protocol::authentication::{md5_hash, sasl};
use postgres_protocol::message::{backend, frontend};

/// Why the server could not be asked over a replication connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WalSenderError {
    /// The connection failed.
    #[error("replication connection: {0}")]
    Io(#[from] io::Error),
    /// The server refused the connection or a command.
    #[error("the server refused {what}: {message}")]
    Refused {
        /// What was asked.
        what: String,
        /// The server's message.
        message: String,
    },
    /// The conninfo asks for something this client does not speak.
    #[error("replication connection: {0}")]
    Unsupported(String),
    /// The server answered something other than what the command returns.
    #[error("the server's answer to {what} is not understood: {problem}")]
    Answer {
        /// The command.
        what: &'static str,
        /// What is wrong with the answer.
        problem: String,
    },
}

/// `IDENTIFY_SYSTEM`'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    /// The database system identifier: every server of one cluster has the same.
    pub system_identifier: u64,
    /// The timeline the server is on: a primary's insert timeline, a standby's replay timeline.
    pub timeline: u32,
}

/// Asks the server `config` names what it is, and (timeline above 1) that timeline's history
/// file's contents, from the server itself.
pub fn identify(config: &postgres::Config) -> Result<(Identity, Option<String>), WalSenderError> {
    let mut connection = Connection::open(config)?;
    let row = connection.single_row("IDENTIFY_SYSTEM")?;
    let field = |index: usize| {
        row.get(index).cloned().flatten().ok_or_else(|| WalSenderError::Answer {
            what: "IDENTIFY_SYSTEM",
            problem: format!("no value in column {index}"),
        })
    };
    let number = |text: String, what: &str| {
        text.parse::<u64>().map_err(|_| WalSenderError::Answer {
            what: "IDENTIFY_SYSTEM",
            problem: format!("{what} {text:?} is not a number"),
        })
    };
    let system_identifier = number(field(0)?, "system identifier")?;
    let timeline = u32::try_from(number(field(1)?, "timeline")?).map_err(|_| WalSenderError::Answer {
        what: "IDENTIFY_SYSTEM",
        problem: "timeline out of range".to_owned(),
    })?;
    if timeline == 0 {
        return Err(WalSenderError::Answer { what: "IDENTIFY_SYSTEM", problem: "timeline 0".to_owned() });
    }
    let history = if timeline > 1 {
        let row = connection.single_row(&format!("TIMELINE_HISTORY {timeline}"))?;
        let text = row.get(1).cloned().flatten().ok_or_else(|| WalSenderError::Answer {
            what: "TIMELINE_HISTORY",
            problem: "no history file contents".to_owned(),
        })?;
        Some(text)
    } else {
        None
    };
    connection.close();
    Ok((Identity { system_identifier, timeline }, history))
}

/// A byte stream to the server: TCP or a Unix socket.
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
        }
    }
}

/// How long one read or write may block.
const IO_LIMIT: Duration = Duration::from_secs(10);

struct Connection {
    stream: Stream,
    input: BytesMut,
}

impl Connection {
    /// Connects to the first host of `config` with `replication=true` and authenticates.
    fn open(config: &postgres::Config) -> Result<Connection, WalSenderError> {
        if config.get_ssl_mode() == SslMode::Require {
            return Err(WalSenderError::Unsupported(
                "sslmode=require: this client speaks no TLS on replication connections".to_owned(),
            ));
        }
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let timeout = config.get_connect_timeout().copied().unwrap_or(IO_LIMIT);
        let stream = match config.get_hosts().first() {
            Some(Host::Tcp(host)) => {
                let address = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))?
                    .next()
                    .ok_or_else(|| WalSenderError::Unsupported(format!("host {host} has no address")))?;
                let tcp = TcpStream::connect_timeout(&address, timeout)?;
                tcp.set_read_timeout(Some(IO_LIMIT))?;
                tcp.set_write_timeout(Some(IO_LIMIT))?;
                Stream::Tcp(tcp)
            }
            Some(Host::Unix(dir)) => {
                let unix = UnixStream::connect(dir.join(format!(".s.PGSQL.{port}")))?;
                unix.set_read_timeout(Some(IO_LIMIT))?;
                unix.set_write_timeout(Some(IO_LIMIT))?;
                Stream::Unix(unix)
            }
            None => return Err(WalSenderError::Unsupported("the conninfo names no host".to_owned())),
        };
        let mut connection = Connection { stream, input: BytesMut::new() };
        let user = config.get_user().unwrap_or("postgres").to_owned();
        let mut out = BytesMut::new();
        let mut parameters = vec![("user", user.as_str()), ("replication", "true")];
        if let Some(name) = config.get_application_name() {
            parameters.push(("application_name", name));
        }
        frontend::startup_message(parameters, &mut out)?;
        connection.send(&out)?;
        connection.authenticate(&user, config.get_password())?;
        Ok(connection)
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), WalSenderError> {
        self.stream.write_all(bytes)?;
        Ok(self.stream.flush()?)
    }

    fn receive(&mut self) -> Result<backend::Message, WalSenderError> {
        loop {
            if let Some(message) = backend::Message::parse(&mut self.input)? {
                return Ok(message);
            }
            let mut chunk = [0u8; 8192];
            let read = self.stream.read(&mut chunk)?;
            if read == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
            }
            self.input.extend_from_slice(&chunk[..read]);
        }
    }

    fn authenticate(&mut self, user: &str, password: Option<&[u8]>) -> Result<(), WalSenderError> {
        let needs_password = || {
            WalSenderError::Unsupported("the server asks for a password; the conninfo has none".to_owned())
        };
        let mut scram: Option<sasl::ScramSha256> = None;
        loop {
            let mut out = BytesMut::new();
            match self.receive()? {
                backend::Message::AuthenticationOk => {}
                backend::Message::AuthenticationCleartextPassword => {
                    frontend::password_message(password.ok_or_else(needs_password)?, &mut out)?;
                }
                backend::Message::AuthenticationMd5Password(body) => {
                    let hash = md5_hash(user.as_bytes(), password.ok_or_else(needs_password)?, body.salt());
                    frontend::password_message(hash.as_bytes(), &mut out)?;
                }
                backend::Message::AuthenticationSasl(body) => {
                    let mut mechanisms = body.mechanisms();
                    let mut offered = false;
                    while let Some(mechanism) = fallible_iterator::FallibleIterator::next(&mut mechanisms)? {
                        offered |= mechanism == sasl::SCRAM_SHA_256;
                    }
                    if !offered {
                        return Err(WalSenderError::Unsupported(
                            "no SASL mechanism this client speaks".to_owned(),
                        ));
                    }
                    let client = sasl::ScramSha256::new(
                        password.ok_or_else(needs_password)?,
                        sasl::ChannelBinding::unsupported(),
                    );
                    frontend::sasl_initial_response(sasl::SCRAM_SHA_256, client.message(), &mut out)?;
                    scram = Some(client);
                }
                backend::Message::AuthenticationSaslContinue(body) => {
                    let client = scram.as_mut().ok_or_else(|| unexpected("authentication"))?;
                    client.update(body.data())?;
                    frontend::sasl_response(client.message(), &mut out)?;
                }
                backend::Message::AuthenticationSaslFinal(body) => {
                    scram.as_mut().ok_or_else(|| unexpected("authentication"))?.finish(body.data())?;
                }
                backend::Message::ErrorResponse(body) => return Err(refused("the connection", &body)),
                backend::Message::ReadyForQuery(_) => return Ok(()),
                backend::Message::ParameterStatus(_)
                | backend::Message::BackendKeyData(_)
                | backend::Message::NoticeResponse(_) => {}
                _ => return Err(unexpected("authentication")),
            }
            if !out.is_empty() {
                self.send(&out)?;
            }
        }
    }

    /// Runs `command` and returns its one row (text columns; `None` for NULL).
    fn single_row(&mut self, command: &str) -> Result<Vec<Option<String>>, WalSenderError> {
        let mut out = BytesMut::new();
        frontend::query(command, &mut out)?;
        self.send(&out)?;
        let mut rows = Vec::new();
        let mut error = None;
        loop {
            match self.receive()? {
                backend::Message::DataRow(body) => {
                    let mut ranges = body.ranges();
                    let mut row = Vec::new();
                    while let Some(range) = fallible_iterator::FallibleIterator::next(&mut ranges)? {
                        row.push(
                            range.map(|range| String::from_utf8_lossy(&body.buffer()[range]).into_owned()),
                        );
                    }
                    rows.push(row);
                }
                backend::Message::ErrorResponse(body) => error = Some(refused(command, &body)),
                backend::Message::ReadyForQuery(_) => break,
                _ => {}
            }
        }
        if let Some(error) = error {
            return Err(error);
        }
        let count = rows.len();
        match <[Vec<Option<String>>; 1]>::try_from(rows) {
            Ok([row]) => Ok(row),
            Err(_) => Err(WalSenderError::Refused {
                what: command.to_owned(),
                message: format!("{count} rows instead of one"),
            }),
        }
    }

    fn close(mut self) {
        let mut out = BytesMut::new();
        frontend::terminate(&mut out);
        let _ = self.send(&out);
    }
}

fn unexpected(during: &str) -> WalSenderError {
    WalSenderError::Unsupported(format!("unexpected message during {during}"))
}

fn refused(what: &str, body: &backend::ErrorResponseBody) -> WalSenderError {
    let mut fields = body.fields();
    let mut message = String::new();
    while let Ok(Some(field)) = fallible_iterator::FallibleIterator::next(&mut fields) {
        if field.type_() == b'M' {
            message = String::from_utf8_lossy(field.value_bytes()).into_owned();
        }
    }
    WalSenderError::Refused { what: what.to_owned(), message }
}
