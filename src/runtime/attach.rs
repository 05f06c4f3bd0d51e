//! The attach protocol between a foreground `rde container run -i/-t` and the
//! container's shim, over a unix socket: small frames `[kind: u8][len: u32 BE][payload]`.
//! Client to shim: stdin bytes, terminal size, end of stdin. Shim to client:
//! the container's output, by stream.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Stdin(Vec<u8>),
    Resize { rows: u16, cols: u16 },
    CloseStdin,
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
}

impl Frame {
    pub fn encode(&self) -> Vec<u8> {
        let (kind, payload): (u8, Vec<u8>) = match self {
            Frame::Stdin(d) => (0, d.clone()),
            Frame::Resize { rows, cols } => (1, [rows.to_be_bytes(), cols.to_be_bytes()].concat()),
            Frame::CloseStdin => (2, Vec::new()),
            Frame::Stdout(d) => (3, d.clone()),
            Frame::Stderr(d) => (4, d.clone()),
        };
        let mut out = Vec::with_capacity(5 + payload.len());
        out.push(kind);
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&payload);
        out
    }
}

/// Reassembles frames from a byte stream that arrives in arbitrary pieces.
#[derive(Default)]
pub struct Decoder {
    pending: Vec<u8>,
}

/// Frames bigger than this are a broken peer, not data.
const MAX_FRAME: usize = 1 << 20;

impl Decoder {
    /// Feed bytes; returns the complete frames, or an error for a malformed stream.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<Frame>, String> {
        self.pending.extend_from_slice(bytes);
        let mut frames = Vec::new();
        loop {
            if self.pending.len() < 5 {
                return Ok(frames);
            }
            let len = u32::from_be_bytes(self.pending[1..5].try_into().expect("4 bytes")) as usize;
            if len > MAX_FRAME {
                return Err(format!("attach frame of {len} bytes"));
            }
            if self.pending.len() < 5 + len {
                return Ok(frames);
            }
            let payload = self.pending[5..5 + len].to_vec();
            let frame = match self.pending[0] {
                0 => Frame::Stdin(payload),
                1 if len == 4 => Frame::Resize { rows: u16::from_be_bytes([payload[0], payload[1]]), cols: u16::from_be_bytes([payload[2], payload[3]]) },
                2 => Frame::CloseStdin,
                3 => Frame::Stdout(payload),
                4 => Frame::Stderr(payload),
                kind => return Err(format!("unknown attach frame kind {kind}")),
            };
            self.pending.drain(..5 + len);
            frames.push(frame);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_any_split() {
        let frames = vec![
            Frame::Stdin(b"ls\n".to_vec()),
            Frame::Resize { rows: 30, cols: 100 },
            Frame::CloseStdin,
            Frame::Stdout(vec![0; 3000]),
            Frame::Stderr(b"x".to_vec()),
        ];
        let bytes: Vec<u8> = frames.iter().flat_map(Frame::encode).collect();
        for chunk in [1, 2, 5, 7, 4096] {
            let mut d = Decoder::default();
            let got: Vec<Frame> = bytes.chunks(chunk).flat_map(|c| d.feed(c).unwrap()).collect();
            assert_eq!(got, frames, "chunk {chunk}");
        }
        assert!(Decoder::default().feed(&[9, 0, 0, 0, 0]).is_err());
        assert!(Decoder::default().feed(&[0, 0xff, 0, 0, 0]).is_err());
    }
}
