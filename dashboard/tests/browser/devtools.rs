//! A headless Chromium driven through the DevTools protocol, so that a test can click a
//! page's button as a user would: Chromium listens on a port of its choosing, and this
//! client speaks the protocol over a WebSocket it opens by hand (the handshake and text
//! frames, no more), so that the test needs no other crate.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A Chromium of its own (profile, port, standard error in a file) with one page to drive.
pub struct Devtools {
    chromium: Child,
    profile: PathBuf,
    socket: TcpStream,
    next_id: u64,
}

impl Devtools {
    /// Starts `chromium` headless on a blank page and connects to that page.
    pub fn start(chromium: &Path) -> Self {
        let profile = std::env::temp_dir().join(format!("eventsmith-devtools-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&profile).unwrap();
        let log = std::fs::File::create(profile.join("stderr.log")).unwrap();
        let chromium = Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
                "--enable-logging=stderr",
                "--v=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start chromium");
        // Chromium writes the port it took into the profile.
        let started = Instant::now();
        let port = loop {
            let written = std::fs::read_to_string(profile.join("DevToolsActivePort")).unwrap_or_default();
            if let Some(port) = written.lines().next().and_then(|port| port.parse::<u16>().ok()) {
                break port;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "chromium did not open its DevTools port");
            std::thread::sleep(Duration::from_millis(50));
        };
        let targets: Value = serde_json::from_str(&http_get(port, "/json/list")).unwrap();
        let page = targets.as_array().unwrap().iter().find(|target| target["type"] == "page").expect("a page target");
        let url = page["webSocketDebuggerUrl"].as_str().unwrap();
        let path = &url[url.find("/devtools/").unwrap()..];
        let mut socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
        socket.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        write!(
            socket,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: ZXZlbnRzbWl0aC10ZXN0cw==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        let mut head = String::new();
        let mut reader = BufReader::new(&socket);
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line);
        }
        assert!(head.starts_with("HTTP/1.1 101"), "the WebSocket handshake: {head}");
        Self { chromium, profile, socket, next_id: 0 }
    }

    /// Calls `method` with `params`, and gives back its result (events in between are
    /// skipped).
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({ "id": id, "method": method, "params": params }).to_string());
        loop {
            let message: Value = serde_json::from_str(&self.receive()).unwrap();
            if message["id"] == id {
                assert!(message.get("error").is_none(), "{method}: {message}");
                return message["result"].clone();
            }
        }
    }

    /// The value of a JavaScript `expression` in the page.
    pub fn evaluate(&mut self, expression: &str) -> Value {
        let result = self.call("Runtime.evaluate", json!({ "expression": expression, "returnByValue": true }));
        assert!(result.get("exceptionDetails").is_none(), "{expression}: {result}");
        result["result"]["value"].clone()
    }

    /// Waits until `expression` is true in the page (a page being replaced by another
    /// answers for one of them), for at most 30 seconds.
    pub fn wait_for(&mut self, expression: &str) {
        let started = Instant::now();
        while self.evaluate(&format!("!!({expression})")) != json!(true) {
            assert!(started.elapsed() < Duration::from_secs(30), "never true in the page: {expression}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the pages wrote to the browser's console so far: script errors, loads and
    /// submissions the security policy refused.
    pub fn console(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self.profile.join("stderr.log")).unwrap_or_default();
        log.lines().filter(|line| line.contains(":CONSOLE")).map(str::to_owned).collect()
    }

    /// One masked text frame (a client must mask what it sends).
    fn send(&mut self, text: &str) {
        let payload = text.as_bytes();
        let mut frame = vec![0x81];
        match payload.len() {
            length @ 0..=125 => frame.push(0x80 | u8::try_from(length).unwrap()),
            length @ 126..=0xffff => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&u16::try_from(length).unwrap().to_be_bytes());
            }
            length => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(length as u64).to_be_bytes());
            }
        }
        let mask = [0x5a, 0x17, 0xc3, 0x8e];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().zip(mask.iter().cycle()).map(|(byte, key)| byte ^ key));
        self.socket.write_all(&frame).unwrap();
    }

    /// The next text message, its fragments joined.
    fn receive(&mut self) -> String {
        let mut message = Vec::new();
        loop {
            let mut head = [0; 2];
            self.socket.read_exact(&mut head).unwrap();
            let length = match head[1] & 0x7f {
                126 => {
                    let mut length = [0; 2];
                    self.socket.read_exact(&mut length).unwrap();
                    u64::from(u16::from_be_bytes(length))
                }
                127 => {
                    let mut length = [0; 8];
                    self.socket.read_exact(&mut length).unwrap();
                    u64::from_be_bytes(length)
                }
                length => u64::from(length),
            };
            let mut payload = vec![0; usize::try_from(length).unwrap()];
            self.socket.read_exact(&mut payload).unwrap();
            match head[0] & 0x0f {
                0x1 | 0x0 => message.extend_from_slice(&payload),
                0x9 | 0xa => continue,
                opcode => panic!("an unexpected WebSocket frame (opcode {opcode})"),
            }
            if head[0] & 0x80 != 0 {
                return String::from_utf8(message).unwrap();
            }
        }
    }
}

impl Drop for Devtools {
    fn drop(&mut self) {
        let _ = self.chromium.kill();
        let _ = self.chromium.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// The body of a GET to Chromium's DevTools port (HTTP/1.1: it does not answer 1.0, and
/// keeps the connection open, so the body is read by its length).
fn http_get(port: u16, path: &str) -> String {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(&stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").unwrap();
    let mut reader = BufReader::new(&stream);
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    String::from_utf8(body).unwrap()
}
