//! Channels (placeholder while being written).
