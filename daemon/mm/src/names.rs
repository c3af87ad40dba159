//! Name objects: `struct anon_vma_name`, immutable refcounted text shared by reference.
//!
//! One `name` op allocates exactly one object; VMAs that adopt it (and the VMAs that split,
//! fork or mremap copies produce from them) hold references. Identical text is not interned:
//! two separate `name` calls give two objects, as in the kernel, and equality for merging is
//! by content ([`Names::eq`]).

use super::slab::Slab;
use super::types::NameId;

/// REFCOUNT_MAX: at this count `dup` makes a private copy instead of taking a reference
/// (the saturation guard of `anon_vma_name_reuse`).
pub const REFCOUNT_MAX: u32 = i32::MAX as u32;

/// ANON_VMA_NAME_MAX_LEN: the limit including the terminating NUL.
pub const ANON_VMA_NAME_MAX_LEN: usize = 80;

/// One name object.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct NameObject {
    /// The text, validated by the prctl rules; never changes.
    pub text: Box<str>,
    /// kref. Invariant: the number of VMAs whose `name` is this object, plus one while a
    /// `name` op holds its allocation reference.
    pub refcount: u32,
}

/// All live name objects.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Names {
    objects: Slab<NameObject>,
}

impl Names {
    /// `anon_vma_name_alloc`: a new object with refcount 1.
    pub fn alloc(&mut self, text: &str) -> NameId {
        NameId(self.objects.insert(NameObject {
            text: text.into(),
            refcount: 1,
        }))
    }

    /// `anon_vma_name_reuse` (via `dup_anon_vma_name`): a reference for a copied VMA, or a
    /// fresh copy when the count is saturated.
    pub fn dup(&mut self, id: NameId) -> NameId {
        let obj = &mut self.objects[id.0];
        if obj.refcount >= REFCOUNT_MAX {
            let text = obj.text.clone();
            self.alloc(&text)
        } else {
            obj.refcount += 1;
            id
        }
    }

    /// `anon_vma_name_put`: drops a reference, freeing the object at zero.
    pub fn put(&mut self, id: NameId) {
        let obj = &mut self.objects[id.0];
        obj.refcount -= 1;
        if obj.refcount == 0 {
            self.objects.remove(id.0);
        }
    }

    /// `anon_vma_name_eq`: same object, or both present with the same text.
    pub fn eq(&self, a: Option<NameId>, b: Option<NameId>) -> bool {
        match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => a == b || self.objects[a.0].text == self.objects[b.0].text,
            _ => false,
        }
    }

    pub fn text(&self, id: NameId) -> &str {
        &self.objects[id.0].text
    }

    pub fn get(&self, id: NameId) -> &NameObject {
        &self.objects[id.0]
    }

    pub fn iter(&self) -> impl Iterator<Item = (NameId, &NameObject)> {
        self.objects.iter().map(|(i, o)| (NameId(i), o))
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    #[cfg(test)]
    pub fn set_refcount_for_test(&mut self, id: NameId, n: u32) {
        self.objects[id.0].refcount = n;
    }
}

/// The prctl(PR_SET_VMA_ANON_NAME) text rules: at most 79 characters, each printable ASCII
/// (0x20..=0x7e) and none of `\`, `` ` ``, `$`, `[`, `]`. Returns what is wrong, if anything.
pub fn validate(text: &str) -> Result<(), String> {
    if text.len() + 1 > ANON_VMA_NAME_MAX_LEN {
        return Err(format!(
            "name is {} bytes; the limit is {} including the terminating NUL",
            text.len(),
            ANON_VMA_NAME_MAX_LEN
        ));
    }
    if let Some((i, c)) = text
        .bytes()
        .enumerate()
        .find(|&(_, c)| !(0x20..=0x7e).contains(&c) || b"\\`$[]".contains(&c))
    {
        return Err(format!(
            "name has the forbidden byte 0x{c:02x} at position {i} (allowed: printable ASCII except \\ ` $ [ ])"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_follows_prctl() {
        assert!(validate("goodname").is_ok());
        assert!(validate("").is_ok());
        assert!(validate("dalvik-main space").is_ok());
        assert!(validate(&"a".repeat(79)).is_ok());
        assert!(validate(&"a".repeat(80)).is_err());
        assert!(validate("badname\u{1}").is_err());
        for bad in [
            "a\\b",
            "a`b",
            "a$b",
            "a[b",
            "a]b",
            "tab\there",
            "del\u{7f}",
            "é",
        ] {
            assert!(validate(bad).is_err(), "{bad:?} must be refused");
        }
        for ok in ["'", "\"", "/", ":", "(", ")", "{", "}", " "] {
            assert!(validate(ok).is_ok(), "{ok:?} must be accepted");
        }
    }

    #[test]
    fn dup_saturates_into_a_copy() {
        let mut n = Names::default();
        let a = n.alloc("x");
        assert_eq!(n.dup(a), a);
        assert_eq!(n.get(a).refcount, 2);
        n.set_refcount_for_test(a, REFCOUNT_MAX);
        let b = n.dup(a);
        assert_ne!(a, b);
        assert_eq!(n.get(b).refcount, 1);
        assert!(n.eq(Some(a), Some(b)));
        assert!(!n.eq(Some(a), None));
    }
}
