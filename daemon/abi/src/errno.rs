//! The symbolic Linux errno values that anonmap replies with, and the error every failure
//! carries.
//!
//! Every failure of the simulator, the command language or the tree is an [`Error`]: the errno
//! the real system call (or the real /proc file) would have returned, plus a plain-words message.
//! The errno is printed by its symbolic name on the socket (`err EINVAL ...`) and by its
//! number to FUSE.

use std::fmt;

/// Declares [`Errno`] with each value's x86_64 number, once.
macro_rules! errnos {
    ($($name:ident = $code:literal,)+) => {
        /// A Linux errno, printed by its symbolic name (`EINVAL`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Errno {
            $($name,)+
        }

        impl Errno {
            /// Every errno anonmap uses, in numeric order.
            pub const ALL: &'static [Errno] = &[$(Errno::$name,)+];

            /// The symbolic name, as `err` replies print it.
            pub fn name(self) -> &'static str {
                match self {
                    $(Errno::$name => stringify!($name),)+
                }
            }

            /// The number on x86_64 Linux (what FUSE replies carry).
            pub fn code(self) -> i32 {
                match self {
                    $(Errno::$name => $code,)+
                }
            }
        }
    };
}

errnos! {
    EPERM = 1,
    ENOENT = 2,
    ESRCH = 3,
    EINTR = 4,
    EIO = 5,
    EBADF = 9,
    EAGAIN = 11,
    ENOMEM = 12,
    EACCES = 13,
    EFAULT = 14,
    EBUSY = 16,
    EEXIST = 17,
    ENODEV = 19,
    ENOTDIR = 20,
    EISDIR = 21,
    EINVAL = 22,
    ENOSPC = 28,
    EROFS = 30,
    ERANGE = 34,
    ENAMETOOLONG = 36,
    EOVERFLOW = 75,
}

impl Errno {
    /// The errno called `name` (`"EINVAL"`).
    pub fn from_name(name: &str) -> Option<Errno> {
        Errno::ALL.iter().copied().find(|e| e.name() == name)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed operation: the errno the kernel would return and what was wrong, in plain words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{errno} {message}")]
pub struct Error {
    pub errno: Errno,
    pub message: String,
}

impl Error {
    pub fn new(errno: Errno, message: impl Into<String>) -> Error {
        Error {
            errno,
            message: message.into(),
        }
    }

    /// The same error with `context` and `": "` before its message.
    pub fn context(self, context: impl fmt::Display) -> Error {
        Error {
            errno: self.errno,
            message: format!("{context}: {}", self.message),
        }
    }
}

/// Builds an [`Error`] with a formatted message: `err!(EINVAL, "bad {x}")`.
#[macro_export]
macro_rules! err {
    ($errno:ident, $($fmt:tt)+) => {
        $crate::errno::Error::new($crate::errno::Errno::$errno, format!($($fmt)+))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_are_linux_x86_64() {
        let libc = [
            (Errno::EPERM, libc::EPERM),
            (Errno::ENOENT, libc::ENOENT),
            (Errno::ESRCH, libc::ESRCH),
            (Errno::EINTR, libc::EINTR),
            (Errno::EIO, libc::EIO),
            (Errno::EBADF, libc::EBADF),
            (Errno::EAGAIN, libc::EAGAIN),
            (Errno::ENOMEM, libc::ENOMEM),
            (Errno::EACCES, libc::EACCES),
            (Errno::EFAULT, libc::EFAULT),
            (Errno::EBUSY, libc::EBUSY),
            (Errno::EEXIST, libc::EEXIST),
            (Errno::ENODEV, libc::ENODEV),
            (Errno::ENOTDIR, libc::ENOTDIR),
            (Errno::EISDIR, libc::EISDIR),
            (Errno::EINVAL, libc::EINVAL),
            (Errno::ENOSPC, libc::ENOSPC),
            (Errno::EROFS, libc::EROFS),
            (Errno::ERANGE, libc::ERANGE),
            (Errno::ENAMETOOLONG, libc::ENAMETOOLONG),
            (Errno::EOVERFLOW, libc::EOVERFLOW),
        ];
        assert_eq!(libc.len(), Errno::ALL.len());
        for (e, code) in libc {
            assert_eq!(e.code(), code, "{e}");
            assert_eq!(Errno::from_name(e.name()), Some(e));
        }
        assert!(Errno::ALL.windows(2).all(|w| w[0].code() < w[1].code()));
        assert_eq!(Errno::from_name("EWHAT"), None);
        let e = crate::err!(ENOMEM, "out of {}", "frames").context("touch");
        assert_eq!(e.to_string(), "ENOMEM touch: out of frames");
    }
}
