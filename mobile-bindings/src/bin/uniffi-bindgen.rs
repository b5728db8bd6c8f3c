//! The in-tree `uniffi-bindgen`: generates the Kotlin, Swift and Python
//! bindings from the built library (see the crate README for the command).

fn main() {
    uniffi::uniffi_bindgen_main()
}
