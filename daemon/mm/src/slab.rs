//! A deterministic arena: a vector of slots and a LIFO free list.
//!
//! Ids are slot indexes. A freed slot is reused by the next insert, in a fixed order, so the
//! same sequence of inserts and removes always yields the same ids (journal replay depends on
//! this).

/// Slots holding `T`, addressed by `u32` index.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Slab<T> {
    /// Invariant: `slots[i]` is `None` exactly when `i` is in `free`.
    slots: Vec<Option<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    /// Stores `value` and returns its slot index.
    pub fn insert(&mut self, value: T) -> u32 {
        self.len += 1;
        if let Some(i) = self.free.pop() {
            debug_assert!(self.slots[i as usize].is_none());
            self.slots[i as usize] = Some(value);
            i
        } else {
            self.slots.push(Some(value));
            u32::try_from(self.slots.len() - 1).expect("slab index fits u32")
        }
    }

    /// Removes and returns the value in slot `i`. Panics if the slot is empty (a simulator bug).
    pub fn remove(&mut self, i: u32) -> T {
        let v = self.slots[i as usize].take().expect("slab slot in use");
        self.free.push(i);
        self.len -= 1;
        v
    }

    pub fn get(&self, i: u32) -> Option<&T> {
        self.slots.get(i as usize).and_then(Option::as_ref)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Live entries in index order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &T)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|v| (i as u32, v)))
    }
}

impl<T> std::ops::Index<u32> for Slab<T> {
    type Output = T;
    fn index(&self, i: u32) -> &T {
        self.slots[i as usize].as_ref().expect("slab slot in use")
    }
}

impl<T> std::ops::IndexMut<u32> for Slab<T> {
    fn index_mut(&mut self, i: u32) -> &mut T {
        self.slots[i as usize].as_mut().expect("slab slot in use")
    }
}
