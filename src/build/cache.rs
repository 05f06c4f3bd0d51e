//! Build cache keys. A step's key is the sha256 of its parent's key, the
//! instruction after expansion and the inputs it depends on (the build args a
//! RUN sees, the content digests of exactly the files a COPY takes, the key of
//! a stage it copies from), so equal keys mean equal results. The records the
//! keys name live in the image store (`Store::cache_record`).

use crate::image::digest::Digest;

/// The key of a step: `parent` chained with `instruction` and `inputs` (order matters).
pub fn key(parent: &Digest, instruction: &str, inputs: &[String]) -> Digest {
    let mut text = format!("{parent}\n{instruction}\n");
    for input in inputs {
        text.push_str(&input.replace('\n', "\\n"));
        text.push('\n');
    }
    Digest::of(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_chain_and_depend_on_every_input() {
        let root = Digest::of(b"FROM x");
        let a = key(&root, "RUN true", &["A=1".into()]);
        assert_eq!(a, key(&root, "RUN true", &["A=1".into()]));
        assert_ne!(a, key(&root, "RUN true", &["A=2".into()]));
        assert_ne!(a, key(&root, "RUN false", &["A=1".into()]));
        assert_ne!(a, key(&Digest::of(b"FROM y"), "RUN true", &["A=1".into()]));
        // No input can pose as another's boundary.
        assert_ne!(key(&root, "RUN", &["a\nb".into()]), key(&root, "RUN", &["a".into(), "b".into()]));
    }
}
