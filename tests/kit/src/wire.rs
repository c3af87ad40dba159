//! Talking to a daemon's socket in tests: replies as text, through the language's reply codec.

use std::io::{BufReader, Write};
use std::os::unix::net::UnixStream;

use anonmap_lang::reply::ReplyError;
use anonmap_lang::Reply;

/// Reads one reply as text: its line with the newline, a `read`'s body appended (lossily
/// decoded). `None` when the connection ends (cleanly, or reset by a daemon that was killed);
/// a reply the codec refuses panics.
pub fn read_reply(r: &mut impl std::io::BufRead) -> Option<String> {
    match Reply::read_from(r) {
        Ok(reply) => reply.map(|r| reply_text(&r)),
        Err(ReplyError::Io(_) | ReplyError::Truncated { .. }) => None,
        Err(e) => panic!("bad reply: {e}"),
    }
}

/// A reply as the test sees it: the line and, for a body, the body after it.
pub fn reply_text(reply: &Reply) -> String {
    match reply {
        Reply::Body(body) => format!("{reply}\n{}", String::from_utf8_lossy(body)),
        other => format!("{other}\n"),
    }
}

/// Sends `input` on `stream` from a writer thread and reads `replies` replies (fewer if the
/// connection ends first).
pub fn exchange_on(stream: UnixStream, input: Vec<u8>, replies: usize) -> Vec<String> {
    let mut w = stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(&input);
    });
    let mut r = BufReader::new(stream);
    let got: Vec<String> = (0..replies).map_while(|_| read_reply(&mut r)).collect();
    writer.join().unwrap();
    got
}

/// `lines` joined with newlines, each line ended.
pub fn lines_of<S: AsRef<str>>(lines: &[S]) -> Vec<u8> {
    let mut v = Vec::new();
    for l in lines {
        v.extend_from_slice(l.as_ref().as_bytes());
        v.push(b'\n');
    }
    v
}
