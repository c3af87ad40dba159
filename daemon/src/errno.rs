//! The symbolic Linux errno values that anonmap replies with, chosen in one place.
//!
//! Every failure the simulator or the command language reports carries one of these, the value
//! the real syscall would have returned, plus a plain-words message (see [`crate::Error`]).

use std::fmt;

/// A Linux errno, printed by its symbolic name (`EINVAL`), as the control socket's `err` replies do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Errno {
    EPERM,
    ENOENT,
    ESRCH,
    EINTR,
    EIO,
    EBADF,
    EAGAIN,
    ENOMEM,
    EACCES,
    EFAULT,
    EBUSY,
    EEXIST,
    ENODEV,
    EINVAL,
    ENOSPC,
    ERANGE,
    ENAMETOOLONG,
    EOVERFLOW,
}

impl Errno {
    /// The symbolic name, as `err` replies print it.
    pub fn name(self) -> &'static str {
        match self {
            Errno::EPERM => "EPERM",
            Errno::ENOENT => "ENOENT",
            Errno::ESRCH => "ESRCH",
            Errno::EINTR => "EINTR",
            Errno::EIO => "EIO",
            Errno::EBADF => "EBADF",
            Errno::EAGAIN => "EAGAIN",
            Errno::ENOMEM => "ENOMEM",
            Errno::EACCES => "EACCES",
            Errno::EFAULT => "EFAULT",
            Errno::EBUSY => "EBUSY",
            Errno::EEXIST => "EEXIST",
            Errno::ENODEV => "ENODEV",
            Errno::EINVAL => "EINVAL",
            Errno::ENOSPC => "ENOSPC",
            Errno::ERANGE => "ERANGE",
            Errno::ENAMETOOLONG => "ENAMETOOLONG",
            Errno::EOVERFLOW => "EOVERFLOW",
        }
    }

    /// The numeric value on x86_64 Linux (for FUSE replies).
    pub fn code(self) -> i32 {
        match self {
            Errno::EPERM => 1,
            Errno::ENOENT => 2,
            Errno::ESRCH => 3,
            Errno::EINTR => 4,
            Errno::EIO => 5,
            Errno::EBADF => 9,
            Errno::EAGAIN => 11,
            Errno::ENOMEM => 12,
            Errno::EACCES => 13,
            Errno::EFAULT => 14,
            Errno::EBUSY => 16,
            Errno::EEXIST => 17,
            Errno::ENODEV => 19,
            Errno::EINVAL => 22,
            Errno::ENOSPC => 28,
            Errno::ERANGE => 34,
            Errno::ENAMETOOLONG => 36,
            Errno::EOVERFLOW => 75,
        }
    }

    /// Parses a symbolic name (`"EINVAL"`).
    pub fn from_name(name: &str) -> Option<Errno> {
        const ALL: [Errno; 18] = [
            Errno::EPERM,
            Errno::ENOENT,
            Errno::ESRCH,
            Errno::EINTR,
            Errno::EIO,
            Errno::EBADF,
            Errno::EAGAIN,
            Errno::ENOMEM,
            Errno::EACCES,
            Errno::EFAULT,
            Errno::EBUSY,
            Errno::EEXIST,
            Errno::ENODEV,
            Errno::EINVAL,
            Errno::ENOSPC,
            Errno::ERANGE,
            Errno::ENAMETOOLONG,
            Errno::EOVERFLOW,
        ];
        ALL.into_iter().find(|e| e.name() == name)
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
}

/// Shorthand for building an [`Error`] with a formatted message: `err!(EINVAL, "bad {x}")`.
#[macro_export]
macro_rules! err {
    ($errno:ident, $($fmt:tt)+) => {
        $crate::errno::Error::new($crate::errno::Errno::$errno, format!($($fmt)+))
    };
}
