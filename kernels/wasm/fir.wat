(; Assembled into kernels/wasm/fir-bytes.ts by `node scripts/build-wasm.mjs` (wabt, a dev
   dependency); test/kernels/wasm.test.ts checks the shipped bytes are this source's. ;)
(module
  (memory (export "memory") 1)
  ;; The resampler's polyphase loop (kernels/resample.ts, Resampler.run) over float32 arrays in
  ;; this memory, at byte addresses: output j = dot(phase p of `ph`, buf[r .. r + taps)), for as
  ;; long as r < c and fewer than `limit` outputs are written to `out`; p advances by stepFrac
  ;; (carrying into r) and r by stepWhole. Returns the count and leaves the next p and r at bytes
  ;; 0 and 4. The dot runs 8 lanes at a time (two f32x4 sums, so the adds do not wait on each
  ;; other), then the taps % 8 left one by one.
  (func (export "run")
    (param $ph i32) (param $taps i32) (param $up i32) (param $buf i32) (param $out i32)
    (param $c i32) (param $limit i32) (param $p i32) (param $r i32) (param $stepWhole i32) (param $stepFrac i32)
    (result i32)
    (local $count i32) (local $a i32) (local $b i32) (local $t i32) (local $n8 i32) (local $n i32)
    (local $acc0 v128) (local $acc1 v128) (local $s f32)
    (local.set $n8 (i32.shl (i32.and (local.get $taps) (i32.const -8)) (i32.const 2)))
    (local.set $n (i32.shl (local.get $taps) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_s (local.get $r) (local.get $c)))
        (br_if $done (i32.ge_s (local.get $count) (local.get $limit)))
        (local.set $a (i32.add (local.get $ph) (i32.mul (local.get $p) (local.get $n))))
        (local.set $b (i32.add (local.get $buf) (i32.shl (local.get $r) (i32.const 2))))
        (local.set $acc0 (v128.const f32x4 0 0 0 0))
        (local.set $acc1 (v128.const f32x4 0 0 0 0))
        (local.set $t (i32.const 0))
        (block $v8
          (loop $l8
            (br_if $v8 (i32.ge_u (local.get $t) (local.get $n8)))
            (local.set $acc0 (f32x4.add (local.get $acc0)
              (f32x4.mul (v128.load (i32.add (local.get $a) (local.get $t))) (v128.load (i32.add (local.get $b) (local.get $t))))))
            (local.set $acc1 (f32x4.add (local.get $acc1)
              (f32x4.mul (v128.load offset=16 (i32.add (local.get $a) (local.get $t))) (v128.load offset=16 (i32.add (local.get $b) (local.get $t))))))
            (local.set $t (i32.add (local.get $t) (i32.const 32)))
            (br $l8)))
        (local.set $acc0 (f32x4.add (local.get $acc0) (local.get $acc1)))
        (local.set $s (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $acc0)) (f32x4.extract_lane 1 (local.get $acc0)))
          (f32.add (f32x4.extract_lane 2 (local.get $acc0)) (f32x4.extract_lane 3 (local.get $acc0)))))
        (block $v1
          (loop $l1
            (br_if $v1 (i32.ge_u (local.get $t) (local.get $n)))
            (local.set $s (f32.add (local.get $s)
              (f32.mul (f32.load (i32.add (local.get $a) (local.get $t))) (f32.load (i32.add (local.get $b) (local.get $t))))))
            (local.set $t (i32.add (local.get $t) (i32.const 4)))
            (br $l1)))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $count) (i32.const 2))) (local.get $s))
        (local.set $count (i32.add (local.get $count) (i32.const 1)))
        (local.set $p (i32.add (local.get $p) (local.get $stepFrac)))
        (local.set $r (i32.add (local.get $r) (local.get $stepWhole)))
        (if (i32.ge_s (local.get $p) (local.get $up))
          (then
            (local.set $p (i32.sub (local.get $p) (local.get $up)))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))))
        (br $next)))
    (i32.store (i32.const 0) (local.get $p))
    (i32.store (i32.const 4) (local.get $r))
    (local.get $count)))
