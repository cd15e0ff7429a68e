//! The fd conversions every socket type has, like std's: `AsFd`,
//! `AsRawFd`, `FromRawFd`, `IntoRawFd`, and `OwnedFd` both ways. Each goes
//! through the type's `From` conversions with its std twin (which carry the
//! blocking mode and timeouts over), so they are written once, here.

/// Implements the fd conversions for `$green`, a type with a
/// `source: Source<$std>` field and `From` conversions with `$std`.
macro_rules! fd_conversions {
    ($green:ident, $std:ty, $what:literal) => {
        impl std::os::fd::AsFd for $green {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(&self.source)
            }
        }

        impl std::os::fd::AsRawFd for $green {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(&self.source)
            }
        }

        impl std::os::fd::FromRawFd for $green {
            #[doc = concat!(
                "# Safety\n\nAs for `", stringify!($std), "::from_raw_fd`: `fd` must be an open ",
                $what, " that the caller owns and gives up.\n\n# Panics\n\nPanics if the socket's ",
                "mode cannot be read or set (only for an fd that is not a socket)."
            )]
            unsafe fn from_raw_fd(fd: std::os::fd::RawFd) -> $green {
                // SAFETY: forwarded from the caller's contract.
                let std = unsafe { <$std as std::os::fd::FromRawFd>::from_raw_fd(fd) };
                $green::from(std)
            }
        }

        impl std::os::fd::IntoRawFd for $green {
            fn into_raw_fd(self) -> std::os::fd::RawFd {
                std::os::fd::IntoRawFd::into_raw_fd(<$std>::from(self))
            }
        }

        impl From<std::os::fd::OwnedFd> for $green {
            fn from(fd: std::os::fd::OwnedFd) -> $green {
                $green::from(<$std>::from(fd))
            }
        }

        impl From<$green> for std::os::fd::OwnedFd {
            fn from(socket: $green) -> std::os::fd::OwnedFd {
                <$std>::from(socket).into()
            }
        }
    };
}

pub(crate) use fd_conversions;
