//! The accept guard's request framer on any client byte stream, fed in the
//! pieces the first bytes choose: never panics, and a stream it accepts whole
//! is accepted the same way when fed in one piece, and hands the proxy the
//! same bytes (framing never depends on how the bytes arrived).
#![no_main]

use execgate::framing::{Framer, head_end};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, stream)) = data.split_first() else {
        return;
    };
    let _ = head_end(stream);
    let piece = usize::from(split % 17) + 1;
    let mut chunked = Framer::new(1024, 1 << 16);
    let mut chunked_out = Vec::new();
    let mut chunked_result = Ok(());
    for part in stream.chunks(piece) {
        chunked_result = chunked.feed(part, &mut chunked_out);
        if chunked_result.is_err() {
            break;
        }
    }
    let mut whole = Framer::new(1024, 1 << 16);
    let mut whole_out = Vec::new();
    let whole_result = whole.feed(stream, &mut whole_out);
    assert_eq!(chunked_result.is_ok(), whole_result.is_ok(), "split at {piece}");
    if whole_result.is_ok() {
        assert_eq!(chunked.heads_completed(), whole.heads_completed());
        assert_eq!(chunked.head_in_progress(), whole.head_in_progress());
        assert_eq!(chunked_out, whole_out, "split at {piece}");
    }
});
