//! Montgomery arithmetic checked against num-bigint, plus a timing probe.

#[test]
#[ignore = "timing probe, run with --release"]
fn timing_probe() {
    use num_bigint::RandBigInt;
    let mut rng = <rand_chacha::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(1);
    let k = if cfg!(debug_assertions) { 2 } else { 10 };
    for bits in [2048u64, 3072] {
        let n = rng.gen_biguint(bits) | BigUint::from(1u8) | (BigUint::from(1u8) << (bits - 1));
        let nn = &n * &n;
        let r = rng.gen_biguint_below(&n);
        let ctx = Monty::from_big(&nn).unwrap();
        let el = n.to_u64_digits();
        let rl = r.to_u64_digits();
        let time = |f: &dyn Fn()| {
            let t = std::time::Instant::now();
            for _ in 0..k {
                f();
            }
            k as f64 / t.elapsed().as_secs_f64()
        };
        let mut ratios = (Vec::new(), Vec::new());
        for _ in 0..5 {
            let a = time(&|| {
                std::hint::black_box(r.modpow(&n, &nn));
            });
            let b = time(&|| {
                std::hint::black_box(ctx.modpow_public(&rl, &el));
            });
            let c = time(&|| {
                std::hint::black_box(ctx.modpow_secret(&rl, &el));
            });
            println!("{bits}: num-bigint {a:.1}/s  public {b:.1}/s  fixed {c:.1}/s");
            ratios.0.push(b / a);
            ratios.1.push(c / a);
        }
        ratios.0.sort_by(f64::total_cmp);
        ratios.1.sort_by(f64::total_cmp);
        println!(
            "{bits}: median ratio public {:.2}, fixed {:.2}",
            ratios.0[2], ratios.1[2]
        );
    }
}

use num_bigint::RandBigInt;
use num_traits::One;
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use super::*;

fn check(bits_m: u64, bits_e: u64, seed: u64) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let m = rng.gen_biguint(bits_m) | BigUint::one() | (BigUint::one() << (bits_m - 1));
    let x = rng.gen_biguint_below(&m);
    let e = rng.gen_biguint(bits_e);
    let ctx = Monty::from_big(&m).unwrap();
    let want = x.modpow(&e, &m);
    let el = e.to_u64_digits();
    let xl = limbs_of(&x, 1);
    assert_eq!(big_of(&ctx.modpow_public(&xl, &el)), want);
    assert_eq!(big_of(&ctx.modpow_secret(&xl, &el)), want);
    // Wide reduction: x·y < m² < m·R.
    let y = rng.gen_biguint_below(&m);
    let xy = &x * &y;
    let r = ctx.to_normal(&ctx.to_mont_wide(&xy.to_u64_digits()));
    assert_eq!(big_of(&r), &xy % &m);
}

#[test]
fn edge_cases() {
    let m = BigUint::from(1_000_003u64);
    let ctx = Monty::from_big(&m).unwrap();
    assert_eq!(big_of(&ctx.modpow_public(&[5], &[0])), BigUint::one());
    assert_eq!(big_of(&ctx.modpow_public(&[0], &[7])), BigUint::from(0u8));
    assert_eq!(big_of(&ctx.modpow_secret(&[5], &[0])), BigUint::one());
    assert!(Monty::new(&[4]).is_none());
    assert!(Monty::new(&[1]).is_none());
    assert!(Monty::new(&[0, 0]).is_none());
    // All-ones modulus exercises every carry.
    let m = vec![u64::MAX; 4];
    let ctx = Monty::new(&m).unwrap();
    let x = vec![u64::MAX - 1; 4];
    let e = vec![u64::MAX; 2];
    assert_eq!(
        big_of(&ctx.modpow_public(&x, &e)),
        big_of(&x).modpow(&big_of(&e), &big_of(&m))
    );
}

#[test]
fn exact_division_inverse() {
    let x = vec![0x1234_5678_9abc_def1u64, 77, 5];
    let inv = inv_mod_pow2(&x, 3);
    let p = mul_low(&x, &inv, 3);
    assert_eq!(p, vec![1, 0, 0]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn modpow_matches_num_bigint(bits_m in 2u64..1100, bits_e in 1u64..1100, seed: u64) {
        check(bits_m.max(2), bits_e, seed);
    }
}

#[test]
fn modpow_matches_num_bigint_large() {
    for (i, bits) in [2048u64, 3072, 4096].into_iter().enumerate() {
        check(bits, bits, i as u64);
    }
}
