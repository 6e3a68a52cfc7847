//! Images: `--rootfs` given a tar archive or a container image, unpacked once into husk's
//! store and used from there (README, "Images").
pub mod json;
