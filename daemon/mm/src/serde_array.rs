//! serde for `Box<[T; N]>`, which serde's derives do not cover for `N > 32`: the page tables'
//! 512-entry tables. Written as a tuple of `N` elements (no length prefix); read back into one
//! heap allocation.
//!
//! Used as `#[serde(with = "crate::serde_array")]` on such a field.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Error as _, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub fn serialize<S, T, const N: usize>(array: &[T; N], serializer: S) -> Result<S::Ok, S::Error>
where
    S: Serializer,
    T: Serialize,
{
    let mut tuple = serializer.serialize_tuple(N)?;
    for item in array {
        tuple.serialize_element(item)?;
    }
    tuple.end()
}

pub fn deserialize<'de, D, T, const N: usize>(deserializer: D) -> Result<Box<[T; N]>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct ArrayVisitor<T, const N: usize>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>, const N: usize> Visitor<'de> for ArrayVisitor<T, N> {
        type Value = Box<[T; N]>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "an array of {N} elements")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut items = Vec::with_capacity(N);
            while items.len() < N {
                match seq.next_element()? {
                    Some(item) => items.push(item),
                    None => return Err(A::Error::invalid_length(items.len(), &self)),
                }
            }
            items
                .into_boxed_slice()
                .try_into()
                .map_err(|_| A::Error::invalid_length(N, &self))
        }
    }

    deserializer.deserialize_tuple(N, ArrayVisitor::<T, N>(PhantomData))
}
