(; Assembled into kernels/wasm/pconv-bytes.ts by `node scripts/build-wasm.mjs`; driven by
   kernels/wasm/pconv.ts, which owns the memory layout and says what each region holds.

   The binaural renderer's block in float32: uniformly partitioned overlap-save convolution of
   one input against a pair of filters (two ears), stereo interleaved out, optionally crossfaded
   from a previous pair. Block size B = m, frames and real FFTs of 2B.

   Spectra are split and packed: m re then m im floats, with the Nyquist bin's (real) value in
   im[0], where bin 0 has only zero. Split storage lets every complex product run on f32x4
   without shuffles; packing keeps each array m long, a multiple of 4.

   Real FFT of 2m samples = complex FFT of m points (even samples as re, odd as im), then a split
   step that separates the two real spectra (pairs bin k with bin m - k). The complex FFT is
   decimation in time: a gather into bit-reversed order that also does the first two radix-2
   stages (4-point DFTs, four at a time, one per lane: their butterflies would otherwise sit
   inside one f32x4), then the remaining stages on f32x4, four butterflies at a time, fused two
   by two (radix 4: half the passes over the arrays). The inverse runs the same forward FFT on
   the conjugate. ;)
(module
  (memory (export "memory") 1)

  ;; Set once by setup() from the layout table pconv.ts writes (byte addresses).
  (global $m (mut i32) (i32.const 0))      ;; complex points = B
  (global $mb (mut i32) (i32.const 0))     ;; bytes from a work/accumulator re array to its im array: 4 (m + 4)
  (global $spec (mut i32) (i32.const 0))   ;; bytes per packed spectrum: 8m
  (global $parts (mut i32) (i32.const 0))  ;; partitions P
  (global $rev (mut i32) (i32.const 0))    ;; i32 rev(4g), g < m/4 (bit reversal over log2 m bits)
  (global $tw (mut i32) (i32.const 0))     ;; stage twiddles: half-span h >= 4 at tw + 8(h - 4): h cos, then h sin, of -2πj/2h
  (global $sw (mut i32) (i32.const 0))     ;; split twiddles halved: m cos, then m sin, of -2πk/2m
  (global $zbuf (mut i32) (i32.const 0))   ;; the inverse's unsplit spectrum, natural order (re, im at + mb)
  (global $workL (mut i32) (i32.const 0))  ;; complex FFT work arrays (re, im at + mb), one per ear
  (global $workR (mut i32) (i32.const 0))
  (global $accL (mut i32) (i32.const 0))   ;; accumulated spectra, unpacked: re[0..m], im[0..m] (im at + mb)
  (global $accR (mut i32) (i32.const 0))
  (global $frame (mut i32) (i32.const 0))  ;; the 2B overlap-save frame; the block being filled is its second half
  (global $pad (mut i32) (i32.const 0))    ;; 2B: one filter partition, zero-padded
  (global $fdl (mut i32) (i32.const 0))    ;; 2P spectra: each written at ring slot r and r + P, so the P newest are contiguous
  (global $ramp (mut i32) (i32.const 0))   ;; 2B: the crossfade's new-filter share, per interleaved sample
  (global $ready (mut i32) (i32.const 0))  ;; 2B: the block's stereo output
  (global $old (mut i32) (i32.const 0))    ;; 2B: the same block through the previous filters

  (func (export "setup") (param $at i32)
    (global.set $m (i32.load offset=0 (local.get $at)))
    (global.set $mb (i32.shl (i32.add (global.get $m) (i32.const 4)) (i32.const 2)))
    (global.set $spec (i32.shl (global.get $m) (i32.const 3)))
    (global.set $parts (i32.load offset=4 (local.get $at)))
    (global.set $rev (i32.load offset=8 (local.get $at)))
    (global.set $tw (i32.load offset=12 (local.get $at)))
    (global.set $sw (i32.load offset=16 (local.get $at)))
    (global.set $zbuf (i32.load offset=20 (local.get $at)))
    (global.set $workL (i32.load offset=24 (local.get $at)))
    (global.set $workR (i32.load offset=28 (local.get $at)))
    (global.set $accL (i32.load offset=32 (local.get $at)))
    (global.set $accR (i32.load offset=36 (local.get $at)))
    (global.set $frame (i32.load offset=40 (local.get $at)))
    (global.set $pad (i32.load offset=44 (local.get $at)))
    (global.set $fdl (i32.load offset=48 (local.get $at)))
    (global.set $ramp (i32.load offset=52 (local.get $at)))
    (global.set $ready (i32.load offset=56 (local.get $at)))
    (global.set $old (i32.load offset=60 (local.get $at))))

  ;; Complex points (re, im) into work w in bit-reversed order, with the first two DIT stages
  ;; done: output group 4G..4G+3 reads points r, r + m/2, r + m/4, r + 3m/4 (r = rev(4G)) and is
  ;; their 4-point DFT. Groups G = g, g + q/2, g + q/4, g + 3q/4 (q = m/4, g < q/4) read
  ;; r + 0..3 (rev(4g) is a multiple of 4 there): four contiguous points, one f32x4 per input,
  ;; and their DFTs, one group per lane, are transposed into four contiguous outputs each.
  ;; pairs = 1: point i is re[2i], re[2i + 1] (a real signal's even and odd samples, im unused);
  ;; pairs = 0: point i is re[i], im[i].
  (func $gather (param $re i32) (param $im i32) (param $pairs i32) (param $w i32)
    (local $g i32) (local $q i32) (local $qs i32) (local $r i32) (local $mb i32) (local $n i32) (local $stride i32) (local $di i32)
    (local $a0r v128) (local $a0i v128) (local $a1r v128) (local $a1i v128)
    (local $a2r v128) (local $a2i v128) (local $a3r v128) (local $a3i v128)
    (local $b0r v128) (local $b0i v128) (local $b1r v128) (local $b1i v128)
    (local $b2r v128) (local $b2i v128) (local $b3r v128) (local $b3i v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $stride (select (i32.const 8) (i32.const 4) (local.get $pairs)))
    (if (i32.lt_u (global.get $m) (i32.const 16))
      (then
        (if (local.get $pairs) (then (local.set $im (i32.add (local.get $re) (i32.const 4)))))
        (call $gatherSmall (local.get $re) (local.get $im) (local.get $stride) (local.get $w))
        (return)))
    (local.set $q (i32.shr_u (global.get $m) (i32.const 2)))
    (local.set $qs (i32.mul (local.get $q) (local.get $stride)))
    (local.set $n (i32.shr_u (local.get $q) (i32.const 2)))
    (local.set $mb (global.get $mb))
    (local.set $di (i32.sub (local.get $im) (local.get $re)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $g) (local.get $n)))
        (local.set $r (i32.add (local.get $re) (i32.mul (i32.load (i32.add (global.get $rev) (i32.shl (local.get $g) (i32.const 2)))) (local.get $stride))))
        (if (local.get $pairs)
          (then
            ;; Four points are eight samples: even lanes are re, odd are im.
            (local.set $t0 (v128.load (local.get $r)))
            (local.set $t1 (v128.load offset=16 (local.get $r)))
            (local.set $a0r (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $t0) (local.get $t1)))
            (local.set $a0i (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $t0) (local.get $t1)))
            (local.set $r (i32.add (local.get $r) (local.get $qs)))
            (local.set $t0 (v128.load (local.get $r)))
            (local.set $t1 (v128.load offset=16 (local.get $r)))
            (local.set $a2r (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $t0) (local.get $t1)))
            (local.set $a2i (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $t0) (local.get $t1)))
            (local.set $r (i32.add (local.get $r) (local.get $qs)))
            (local.set $t0 (v128.load (local.get $r)))
            (local.set $t1 (v128.load offset=16 (local.get $r)))
            (local.set $a1r (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $t0) (local.get $t1)))
            (local.set $a1i (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $t0) (local.get $t1)))
            (local.set $r (i32.add (local.get $r) (local.get $qs)))
            (local.set $t0 (v128.load (local.get $r)))
            (local.set $t1 (v128.load offset=16 (local.get $r)))
            (local.set $a3r (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $t0) (local.get $t1)))
            (local.set $a3i (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $t0) (local.get $t1))))
          (else
            (local.set $a0r (v128.load (local.get $r)))
            (local.set $a0i (v128.load (i32.add (local.get $r) (local.get $di))))
            (local.set $r (i32.add (local.get $r) (local.get $qs)))
            (local.set $a2r (v128.load (local.get $r)))
            (local.set $a2i (v128.load (i32.add (local.get $r) (local.get $di))))
            (local.set $r (i32.add (local.get $r) (local.get $qs)))
            (local.set $a1r (v128.load (local.get $r)))
            (local.set $a1i (v128.load (i32.add (local.get $r) (local.get $di))))
            (local.set $r (i32.add (local.get $r) (local.get $qs)))
            (local.set $a3r (v128.load (local.get $r)))
            (local.set $a3i (v128.load (i32.add (local.get $r) (local.get $di))))))
        (local.set $b0r (f32x4.add (local.get $a0r) (local.get $a1r)))
        (local.set $b0i (f32x4.add (local.get $a0i) (local.get $a1i)))
        (local.set $b1r (f32x4.sub (local.get $a0r) (local.get $a1r)))
        (local.set $b1i (f32x4.sub (local.get $a0i) (local.get $a1i)))
        (local.set $b2r (f32x4.add (local.get $a2r) (local.get $a3r)))
        (local.set $b2i (f32x4.add (local.get $a2i) (local.get $a3i)))
        (local.set $b3r (f32x4.sub (local.get $a2r) (local.get $a3r)))
        (local.set $b3i (f32x4.sub (local.get $a2i) (local.get $a3i)))
        ;; Span 4: outputs 0, 2 from (b0, b2) with twiddle 1; 1, 3 from (b1, b3) with -i.
        (local.set $a0r (f32x4.add (local.get $b0r) (local.get $b2r)))
        (local.set $a0i (f32x4.add (local.get $b0i) (local.get $b2i)))
        (local.set $a2r (f32x4.sub (local.get $b0r) (local.get $b2r)))
        (local.set $a2i (f32x4.sub (local.get $b0i) (local.get $b2i)))
        (local.set $a1r (f32x4.add (local.get $b1r) (local.get $b3i)))
        (local.set $a1i (f32x4.sub (local.get $b1i) (local.get $b3r)))
        (local.set $a3r (f32x4.sub (local.get $b1r) (local.get $b3i)))
        (local.set $a3i (f32x4.add (local.get $b1i) (local.get $b3r)))
        ;; Transpose: lane l of (a0, a1, a2, a3) is group G_l's four outputs. Lane order of the
        ;; groups: g, g + q/2, g + q/4, g + 3q/4, i.e. byte offsets 16g + 0, 8q, 4q, 12q.
        (local.set $r (i32.add (local.get $w) (i32.shl (local.get $g) (i32.const 4))))
        (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a0r) (local.get $a1r)))
        (local.set $t1 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a2r) (local.get $a3r)))
        (local.set $t2 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a0r) (local.get $a1r)))
        (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a2r) (local.get $a3r)))
        (v128.store (local.get $r) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t1)))
        (v128.store (i32.add (local.get $r) (i32.shl (local.get $q) (i32.const 3))) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t1)))
        (v128.store (i32.add (local.get $r) (i32.shl (local.get $q) (i32.const 2))) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t2) (local.get $t3)))
        (v128.store (i32.add (local.get $r) (i32.mul (local.get $q) (i32.const 12))) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t2) (local.get $t3)))
        (local.set $r (i32.add (local.get $r) (local.get $mb)))
        (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a0i) (local.get $a1i)))
        (local.set $t1 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a2i) (local.get $a3i)))
        (local.set $t2 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a0i) (local.get $a1i)))
        (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a2i) (local.get $a3i)))
        (v128.store (local.get $r) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t1)))
        (v128.store (i32.add (local.get $r) (i32.shl (local.get $q) (i32.const 3))) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t1)))
        (v128.store (i32.add (local.get $r) (i32.shl (local.get $q) (i32.const 2))) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t2) (local.get $t3)))
        (v128.store (i32.add (local.get $r) (i32.mul (local.get $q) (i32.const 12))) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t2) (local.get $t3)))
        (local.set $g (i32.add (local.get $g) (i32.const 1)))
        (br $next))))

  ;; $gather for m = 4 and 8, one group at a time.
  (func $gatherSmall (param $re i32) (param $im i32) (param $stride i32) (param $w i32)
    (local $g i32) (local $q i32) (local $qs i32) (local $r i32) (local $o i32) (local $mb i32)
    (local $a0r f32) (local $a0i f32) (local $a1r f32) (local $a1i f32)
    (local $a2r f32) (local $a2i f32) (local $a3r f32) (local $a3i f32)
    (local $b0r f32) (local $b0i f32) (local $b1r f32) (local $b1i f32)
    (local $b2r f32) (local $b2i f32) (local $b3r f32) (local $b3i f32)
    (local.set $q (i32.shr_u (global.get $m) (i32.const 2)))
    (local.set $qs (i32.mul (local.get $q) (local.get $stride)))
    (local.set $mb (global.get $mb))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $g) (local.get $q)))
        (local.set $r (i32.mul (i32.load (i32.add (global.get $rev) (i32.shl (local.get $g) (i32.const 2)))) (local.get $stride)))
        (local.set $a0r (f32.load (i32.add (local.get $re) (local.get $r))))
        (local.set $a0i (f32.load (i32.add (local.get $im) (local.get $r))))
        (local.set $r (i32.add (local.get $r) (local.get $qs)))
        (local.set $a2r (f32.load (i32.add (local.get $re) (local.get $r))))
        (local.set $a2i (f32.load (i32.add (local.get $im) (local.get $r))))
        (local.set $r (i32.add (local.get $r) (local.get $qs)))
        (local.set $a1r (f32.load (i32.add (local.get $re) (local.get $r))))
        (local.set $a1i (f32.load (i32.add (local.get $im) (local.get $r))))
        (local.set $r (i32.add (local.get $r) (local.get $qs)))
        (local.set $a3r (f32.load (i32.add (local.get $re) (local.get $r))))
        (local.set $a3i (f32.load (i32.add (local.get $im) (local.get $r))))
        (local.set $b0r (f32.add (local.get $a0r) (local.get $a1r)))
        (local.set $b0i (f32.add (local.get $a0i) (local.get $a1i)))
        (local.set $b1r (f32.sub (local.get $a0r) (local.get $a1r)))
        (local.set $b1i (f32.sub (local.get $a0i) (local.get $a1i)))
        (local.set $b2r (f32.add (local.get $a2r) (local.get $a3r)))
        (local.set $b2i (f32.add (local.get $a2i) (local.get $a3i)))
        (local.set $b3r (f32.sub (local.get $a2r) (local.get $a3r)))
        (local.set $b3i (f32.sub (local.get $a2i) (local.get $a3i)))
        ;; Span 4: (0, 2) with twiddle 1, (1, 3) with -i.
        (local.set $o (i32.add (local.get $w) (i32.shl (local.get $g) (i32.const 4))))
        (f32.store offset=0 (local.get $o) (f32.add (local.get $b0r) (local.get $b2r)))
        (f32.store offset=8 (local.get $o) (f32.sub (local.get $b0r) (local.get $b2r)))
        (f32.store offset=4 (local.get $o) (f32.add (local.get $b1r) (local.get $b3i)))
        (f32.store offset=12 (local.get $o) (f32.sub (local.get $b1r) (local.get $b3i)))
        (local.set $o (i32.add (local.get $o) (local.get $mb)))
        (f32.store offset=0 (local.get $o) (f32.add (local.get $b0i) (local.get $b2i)))
        (f32.store offset=8 (local.get $o) (f32.sub (local.get $b0i) (local.get $b2i)))
        (f32.store offset=4 (local.get $o) (f32.sub (local.get $b1i) (local.get $b3r)))
        (f32.store offset=12 (local.get $o) (f32.add (local.get $b1i) (local.get $b3r)))
        (local.set $g (i32.add (local.get $g) (i32.const 1)))
        (br $next))))

  ;; The DIT stages of half-span 4 .. m/2 over work (after $gather), on f32x4: pairs of stages
  ;; (h, 2h) in one pass over four points i, i + h, i + 2h, i + 3h; the second stage's odd
  ;; twiddle is -i times its even one. A last stage left alone (an odd count) runs radix 2.
  (func $stages (param $w i32)
    (local $h i32) (local $hb i32) (local $mbytes i32) (local $mb i32) (local $start i32) (local $j i32)
    (local $c1 i32) (local $s1 i32) (local $c2 i32) (local $s2 i32)
    (local $p0 i32) (local $p1 i32) (local $p2 i32) (local $p3 i32)
    (local $wr v128) (local $wi v128) (local $xr v128) (local $xi v128) (local $tr v128) (local $ti v128)
    (local $a0r v128) (local $a0i v128) (local $a1r v128) (local $a1i v128)
    (local $a2r v128) (local $a2i v128) (local $a3r v128) (local $a3i v128)
    (local $ur v128) (local $ui v128) (local $qr v128) (local $qi v128)
    (local.set $mbytes (i32.shl (global.get $m) (i32.const 2)))
    (local.set $mb (global.get $mb))
    (local.set $h (i32.const 4))
    (block $fusedDone
      (loop $fused
        (br_if $fusedDone (i32.gt_u (i32.shl (local.get $h) (i32.const 2)) (global.get $m)))
        (local.set $hb (i32.shl (local.get $h) (i32.const 2)))
        (local.set $c1 (i32.add (global.get $tw) (i32.shl (i32.sub (local.get $h) (i32.const 4)) (i32.const 3))))
        (local.set $s1 (i32.add (local.get $c1) (local.get $hb)))
        (local.set $c2 (i32.add (global.get $tw) (i32.shl (i32.sub (i32.shl (local.get $h) (i32.const 1)) (i32.const 4)) (i32.const 3))))
        (local.set $s2 (i32.add (local.get $c2) (i32.shl (local.get $hb) (i32.const 1))))
        (local.set $start (i32.const 0))
        (block $groupsDone
          (loop $groups
            (br_if $groupsDone (i32.ge_u (local.get $start) (local.get $mbytes)))
            (local.set $j (i32.const 0))
            (block $jDone
              (loop $js
                (br_if $jDone (i32.ge_u (local.get $j) (local.get $hb)))
                (local.set $p0 (i32.add (local.get $w) (i32.add (local.get $start) (local.get $j))))
                (local.set $p1 (i32.add (local.get $p0) (local.get $hb)))
                (local.set $p2 (i32.add (local.get $p1) (local.get $hb)))
                (local.set $p3 (i32.add (local.get $p2) (local.get $hb)))
                ;; Span 2h: (p0, p1) and (p2, p3) with w1.
                (local.set $wr (v128.load (i32.add (local.get $c1) (local.get $j))))
                (local.set $wi (v128.load (i32.add (local.get $s1) (local.get $j))))
                (local.set $xr (v128.load (local.get $p1)))
                (local.set $xi (v128.load (i32.add (local.get $p1) (local.get $mb))))
                (local.set $tr (f32x4.sub (f32x4.mul (local.get $wr) (local.get $xr)) (f32x4.mul (local.get $wi) (local.get $xi))))
                (local.set $ti (f32x4.add (f32x4.mul (local.get $wr) (local.get $xi)) (f32x4.mul (local.get $wi) (local.get $xr))))
                (local.set $xr (v128.load (local.get $p0)))
                (local.set $xi (v128.load (i32.add (local.get $p0) (local.get $mb))))
                (local.set $a0r (f32x4.add (local.get $xr) (local.get $tr)))
                (local.set $a0i (f32x4.add (local.get $xi) (local.get $ti)))
                (local.set $a1r (f32x4.sub (local.get $xr) (local.get $tr)))
                (local.set $a1i (f32x4.sub (local.get $xi) (local.get $ti)))
                (local.set $xr (v128.load (local.get $p3)))
                (local.set $xi (v128.load (i32.add (local.get $p3) (local.get $mb))))
                (local.set $tr (f32x4.sub (f32x4.mul (local.get $wr) (local.get $xr)) (f32x4.mul (local.get $wi) (local.get $xi))))
                (local.set $ti (f32x4.add (f32x4.mul (local.get $wr) (local.get $xi)) (f32x4.mul (local.get $wi) (local.get $xr))))
                (local.set $xr (v128.load (local.get $p2)))
                (local.set $xi (v128.load (i32.add (local.get $p2) (local.get $mb))))
                (local.set $a2r (f32x4.add (local.get $xr) (local.get $tr)))
                (local.set $a2i (f32x4.add (local.get $xi) (local.get $ti)))
                (local.set $a3r (f32x4.sub (local.get $xr) (local.get $tr)))
                (local.set $a3i (f32x4.sub (local.get $xi) (local.get $ti)))
                ;; Span 4h: (p0, p2) with w2, (p1, p3) with -i w2.
                (local.set $wr (v128.load (i32.add (local.get $c2) (local.get $j))))
                (local.set $wi (v128.load (i32.add (local.get $s2) (local.get $j))))
                (local.set $ur (f32x4.sub (f32x4.mul (local.get $wr) (local.get $a2r)) (f32x4.mul (local.get $wi) (local.get $a2i))))
                (local.set $ui (f32x4.add (f32x4.mul (local.get $wr) (local.get $a2i)) (f32x4.mul (local.get $wi) (local.get $a2r))))
                (local.set $qr (f32x4.sub (f32x4.mul (local.get $wr) (local.get $a3r)) (f32x4.mul (local.get $wi) (local.get $a3i))))
                (local.set $qi (f32x4.add (f32x4.mul (local.get $wr) (local.get $a3i)) (f32x4.mul (local.get $wi) (local.get $a3r))))
                (v128.store (local.get $p0) (f32x4.add (local.get $a0r) (local.get $ur)))
                (v128.store (i32.add (local.get $p0) (local.get $mb)) (f32x4.add (local.get $a0i) (local.get $ui)))
                (v128.store (local.get $p2) (f32x4.sub (local.get $a0r) (local.get $ur)))
                (v128.store (i32.add (local.get $p2) (local.get $mb)) (f32x4.sub (local.get $a0i) (local.get $ui)))
                (v128.store (local.get $p1) (f32x4.add (local.get $a1r) (local.get $qi)))
                (v128.store (i32.add (local.get $p1) (local.get $mb)) (f32x4.sub (local.get $a1i) (local.get $qr)))
                (v128.store (local.get $p3) (f32x4.sub (local.get $a1r) (local.get $qi)))
                (v128.store (i32.add (local.get $p3) (local.get $mb)) (f32x4.add (local.get $a1i) (local.get $qr)))
                (local.set $j (i32.add (local.get $j) (i32.const 16)))
                (br $js)))
            (local.set $start (i32.add (local.get $start) (i32.shl (local.get $hb) (i32.const 2))))
            (br $groups)))
        (local.set $h (i32.shl (local.get $h) (i32.const 2)))
        (br $fused)))
    (if (i32.le_u (i32.shl (local.get $h) (i32.const 1)) (global.get $m))
      (then
        (local.set $hb (i32.shl (local.get $h) (i32.const 2)))
        (local.set $c1 (i32.add (global.get $tw) (i32.shl (i32.sub (local.get $h) (i32.const 4)) (i32.const 3))))
        (local.set $s1 (i32.add (local.get $c1) (local.get $hb)))
        (local.set $start (i32.const 0))
        (block $groupsDone
          (loop $groups
            (br_if $groupsDone (i32.ge_u (local.get $start) (local.get $mbytes)))
            (local.set $j (i32.const 0))
            (block $jDone
              (loop $js
                (br_if $jDone (i32.ge_u (local.get $j) (local.get $hb)))
                (local.set $p0 (i32.add (local.get $w) (i32.add (local.get $start) (local.get $j))))
                (local.set $p1 (i32.add (local.get $p0) (local.get $hb)))
                (local.set $wr (v128.load (i32.add (local.get $c1) (local.get $j))))
                (local.set $wi (v128.load (i32.add (local.get $s1) (local.get $j))))
                (local.set $xr (v128.load (local.get $p1)))
                (local.set $xi (v128.load (i32.add (local.get $p1) (local.get $mb))))
                (local.set $tr (f32x4.sub (f32x4.mul (local.get $wr) (local.get $xr)) (f32x4.mul (local.get $wi) (local.get $xi))))
                (local.set $ti (f32x4.add (f32x4.mul (local.get $wr) (local.get $xi)) (f32x4.mul (local.get $wi) (local.get $xr))))
                (local.set $xr (v128.load (local.get $p0)))
                (local.set $xi (v128.load (i32.add (local.get $p0) (local.get $mb))))
                (v128.store (local.get $p0) (f32x4.add (local.get $xr) (local.get $tr)))
                (v128.store (i32.add (local.get $p0) (local.get $mb)) (f32x4.add (local.get $xi) (local.get $ti)))
                (v128.store (local.get $p1) (f32x4.sub (local.get $xr) (local.get $tr)))
                (v128.store (i32.add (local.get $p1) (local.get $mb)) (f32x4.sub (local.get $xi) (local.get $ti)))
                (local.set $j (i32.add (local.get $j) (i32.const 16)))
                (br $js)))
            (local.set $start (i32.add (local.get $start) (i32.shl (local.get $hb) (i32.const 1))))
            (br $groups))))))

  ;; Real FFT of the 2m samples at src into the packed spectrum at dst, through work w.
  ;; Z = FFT(even + i odd); X[k] = E[k] + W^k O[k] with E[k] = (Z[k] + conj Z[m-k]) / 2,
  ;; O[k] = (Z[k] - conj Z[m-k]) / 2i, W = exp(-2πi/2m). With s = zr + yr, d = zr - yr,
  ;; t = zi + yi, u = zi - yi (y = Z[m-k]) and the halved twiddle (hc, hs):
  ;;   Re X = s/2 + hc t + hs d,  Im X = u/2 - hc d + hs t.
  ;; Z[m-k] for k..k+3 is one load at m-k-3 with its lanes reversed; Z[m] is Z[0], copied there.
  (func $rfft (param $src i32) (param $dst i32) (param $w i32)
    (local $k i32) (local $mbytes i32) (local $wi i32) (local $y i32) (local $sw2 i32) (local $dim i32)
    (local $zr v128) (local $zi v128) (local $yr v128) (local $yi v128) (local $hc v128) (local $hs v128)
    (local $s v128) (local $d v128) (local $t v128) (local $u v128)
    (call $gather (local.get $src) (i32.const 0) (i32.const 1) (local.get $w))
    (call $stages (local.get $w))
    (local.set $mbytes (i32.shl (global.get $m) (i32.const 2)))
    (local.set $wi (i32.add (local.get $w) (global.get $mb)))
    (f32.store (i32.add (local.get $w) (local.get $mbytes)) (f32.load (local.get $w)))
    (f32.store (i32.add (local.get $wi) (local.get $mbytes)) (f32.load (local.get $wi)))
    (local.set $sw2 (i32.add (global.get $sw) (local.get $mbytes)))
    (local.set $dim (i32.add (local.get $dst) (local.get $mbytes)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $k) (local.get $mbytes)))
        (local.set $y (i32.sub (i32.sub (local.get $mbytes) (local.get $k)) (i32.const 12)))
        (local.set $zr (v128.load (i32.add (local.get $w) (local.get $k))))
        (local.set $zi (v128.load (i32.add (local.get $wi) (local.get $k))))
        (local.set $yr (v128.load (i32.add (local.get $w) (local.get $y))))
        (local.set $yr (i8x16.shuffle 12 13 14 15 8 9 10 11 4 5 6 7 0 1 2 3 (local.get $yr) (local.get $yr)))
        (local.set $yi (v128.load (i32.add (local.get $wi) (local.get $y))))
        (local.set $yi (i8x16.shuffle 12 13 14 15 8 9 10 11 4 5 6 7 0 1 2 3 (local.get $yi) (local.get $yi)))
        (local.set $hc (v128.load (i32.add (global.get $sw) (local.get $k))))
        (local.set $hs (v128.load (i32.add (local.get $sw2) (local.get $k))))
        (local.set $s (f32x4.add (local.get $zr) (local.get $yr)))
        (local.set $d (f32x4.sub (local.get $zr) (local.get $yr)))
        (local.set $t (f32x4.add (local.get $zi) (local.get $yi)))
        (local.set $u (f32x4.sub (local.get $zi) (local.get $yi)))
        (v128.store (i32.add (local.get $dst) (local.get $k))
          (f32x4.add (f32x4.mul (local.get $s) (v128.const f32x4 0.5 0.5 0.5 0.5))
            (f32x4.add (f32x4.mul (local.get $hc) (local.get $t)) (f32x4.mul (local.get $hs) (local.get $d)))))
        (v128.store (i32.add (local.get $dim) (local.get $k))
          (f32x4.add (f32x4.mul (local.get $u) (v128.const f32x4 0.5 0.5 0.5 0.5))
            (f32x4.sub (f32x4.mul (local.get $hs) (local.get $t)) (f32x4.mul (local.get $hc) (local.get $d)))))
        (local.set $k (i32.add (local.get $k) (i32.const 16)))
        (br $next)))
    ;; Bin 0 came out as Z0r + Z0i with im 0; its im slot takes the Nyquist bin, Z0r - Z0i.
    (f32.store (local.get $dim) (f32.sub (f32.load (local.get $w)) (f32.load (local.get $wi)))))

  ;; The inverse real FFT of the unpacked spectrum at acc, up to the complex FFT: leaves in work
  ;; w the conjugate of m times the 2m output samples as complex points (sample 2i = re[i],
  ;; 2i + 1 = -im[i]). Undoes the split: E[k] = (X[k] + conj X[m-k]) / 2,
  ;; O[k] = (X[k] - conj X[m-k]) / 2 W^-k, Z[k] = E[k] + i O[k], stored as conj Z (the inverse is
  ;; conj FFT conj). With S = xr + yr, D = xr - yr, T = xi + yi, U = xi - yi (y = conj X[m-k]):
  ;;   Re Z = S/2 + hs D - hc U,  -Im Z = -T/2 - hc D - hs U.
  (func $irfft (param $acc i32) (param $w i32)
    (local $k i32) (local $mbytes i32) (local $ai i32) (local $y i32) (local $sw2 i32) (local $zi i32)
    (local $xr v128) (local $xi v128) (local $yr v128) (local $yi v128) (local $hc v128) (local $hs v128)
    (local $s v128) (local $d v128) (local $t v128) (local $u v128)
    (local.set $mbytes (i32.shl (global.get $m) (i32.const 2)))
    (local.set $ai (i32.add (local.get $acc) (global.get $mb)))
    (local.set $zi (i32.add (global.get $zbuf) (global.get $mb)))
    (local.set $sw2 (i32.add (global.get $sw) (local.get $mbytes)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $k) (local.get $mbytes)))
        (local.set $y (i32.sub (i32.sub (local.get $mbytes) (local.get $k)) (i32.const 12)))
        (local.set $xr (v128.load (i32.add (local.get $acc) (local.get $k))))
        (local.set $xi (v128.load (i32.add (local.get $ai) (local.get $k))))
        (local.set $yr (v128.load (i32.add (local.get $acc) (local.get $y))))
        (local.set $yr (i8x16.shuffle 12 13 14 15 8 9 10 11 4 5 6 7 0 1 2 3 (local.get $yr) (local.get $yr)))
        (local.set $yi (v128.load (i32.add (local.get $ai) (local.get $y))))
        (local.set $yi (f32x4.neg (i8x16.shuffle 12 13 14 15 8 9 10 11 4 5 6 7 0 1 2 3 (local.get $yi) (local.get $yi))))
        (local.set $hc (v128.load (i32.add (global.get $sw) (local.get $k))))
        (local.set $hs (v128.load (i32.add (local.get $sw2) (local.get $k))))
        (local.set $s (f32x4.add (local.get $xr) (local.get $yr)))
        (local.set $d (f32x4.sub (local.get $xr) (local.get $yr)))
        (local.set $t (f32x4.add (local.get $xi) (local.get $yi)))
        (local.set $u (f32x4.sub (local.get $xi) (local.get $yi)))
        (v128.store (i32.add (global.get $zbuf) (local.get $k))
          (f32x4.add (f32x4.mul (local.get $s) (v128.const f32x4 0.5 0.5 0.5 0.5))
            (f32x4.sub (f32x4.mul (local.get $hs) (local.get $d)) (f32x4.mul (local.get $hc) (local.get $u)))))
        (v128.store (i32.add (local.get $zi) (local.get $k))
          (f32x4.sub (f32x4.mul (local.get $t) (v128.const f32x4 -0.5 -0.5 -0.5 -0.5))
            (f32x4.add (f32x4.mul (local.get $hc) (local.get $d)) (f32x4.mul (local.get $hs) (local.get $u)))))
        (local.set $k (i32.add (local.get $k) (i32.const 16)))
        (br $next)))
    (call $gather (global.get $zbuf) (local.get $zi) (i32.const 0) (local.get $w))
    (call $stages (local.get $w)))

  ;; accL, accR = sum_p X[newest - p] H[p] for the two filters at hl, hr (P packed spectra each);
  ;; x is the newest input spectrum, the older ones below it. Bin 0 lanes multiply the packed DC
  ;; and Nyquist values as if complex; they are summed apart and written over, unpacked.
  (func $accumulate (param $x i32) (param $hl i32) (param $hr i32)
    (local $k i32) (local $mbytes i32) (local $p i32) (local $xp i32) (local $lp i32) (local $rp i32)
    (local $xr v128) (local $xi v128) (local $hr_ v128) (local $hi v128)
    (local $lr v128) (local $li v128) (local $rr v128) (local $ri v128)
    (local $dcL f32) (local $nyL f32) (local $dcR f32) (local $nyR f32)
    (local.set $mbytes (i32.shl (global.get $m) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $k) (local.get $mbytes)))
        (local.set $lr (v128.const f32x4 0 0 0 0))
        (local.set $li (v128.const f32x4 0 0 0 0))
        (local.set $rr (v128.const f32x4 0 0 0 0))
        (local.set $ri (v128.const f32x4 0 0 0 0))
        (local.set $xp (i32.add (local.get $x) (local.get $k)))
        (local.set $lp (i32.add (local.get $hl) (local.get $k)))
        (local.set $rp (i32.add (local.get $hr) (local.get $k)))
        (local.set $p (global.get $parts))
        (loop $part
          (local.set $xr (v128.load (local.get $xp)))
          (local.set $xi (v128.load (i32.add (local.get $xp) (local.get $mbytes))))
          (local.set $hr_ (v128.load (local.get $lp)))
          (local.set $hi (v128.load (i32.add (local.get $lp) (local.get $mbytes))))
          (local.set $lr (f32x4.add (local.get $lr) (f32x4.sub (f32x4.mul (local.get $xr) (local.get $hr_)) (f32x4.mul (local.get $xi) (local.get $hi)))))
          (local.set $li (f32x4.add (local.get $li) (f32x4.add (f32x4.mul (local.get $xr) (local.get $hi)) (f32x4.mul (local.get $xi) (local.get $hr_)))))
          (local.set $hr_ (v128.load (local.get $rp)))
          (local.set $hi (v128.load (i32.add (local.get $rp) (local.get $mbytes))))
          (local.set $rr (f32x4.add (local.get $rr) (f32x4.sub (f32x4.mul (local.get $xr) (local.get $hr_)) (f32x4.mul (local.get $xi) (local.get $hi)))))
          (local.set $ri (f32x4.add (local.get $ri) (f32x4.add (f32x4.mul (local.get $xr) (local.get $hi)) (f32x4.mul (local.get $xi) (local.get $hr_)))))
          (local.set $xp (i32.sub (local.get $xp) (global.get $spec)))
          (local.set $lp (i32.add (local.get $lp) (global.get $spec)))
          (local.set $rp (i32.add (local.get $rp) (global.get $spec)))
          (local.set $p (i32.sub (local.get $p) (i32.const 1)))
          (br_if $part (local.get $p)))
        (v128.store (i32.add (global.get $accL) (local.get $k)) (local.get $lr))
        (v128.store (i32.add (i32.add (global.get $accL) (global.get $mb)) (local.get $k)) (local.get $li))
        (v128.store (i32.add (global.get $accR) (local.get $k)) (local.get $rr))
        (v128.store (i32.add (i32.add (global.get $accR) (global.get $mb)) (local.get $k)) (local.get $ri))
        (local.set $k (i32.add (local.get $k) (i32.const 16)))
        (br $next)))
    (local.set $xp (local.get $x))
    (local.set $lp (local.get $hl))
    (local.set $rp (local.get $hr))
    (local.set $p (global.get $parts))
    (loop $part
      (local.set $dcL (f32.add (local.get $dcL) (f32.mul (f32.load (local.get $xp)) (f32.load (local.get $lp)))))
      (local.set $dcR (f32.add (local.get $dcR) (f32.mul (f32.load (local.get $xp)) (f32.load (local.get $rp)))))
      (local.set $xp (i32.add (local.get $xp) (local.get $mbytes)))
      (local.set $nyL (f32.add (local.get $nyL) (f32.mul (f32.load (local.get $xp)) (f32.load (i32.add (local.get $lp) (local.get $mbytes))))))
      (local.set $nyR (f32.add (local.get $nyR) (f32.mul (f32.load (local.get $xp)) (f32.load (i32.add (local.get $rp) (local.get $mbytes))))))
      (local.set $xp (i32.sub (i32.sub (local.get $xp) (local.get $mbytes)) (global.get $spec)))
      (local.set $lp (i32.add (local.get $lp) (global.get $spec)))
      (local.set $rp (i32.add (local.get $rp) (global.get $spec)))
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (br_if $part (local.get $p)))
    (f32.store (global.get $accL) (local.get $dcL))
    (f32.store (i32.add (global.get $accL) (local.get $mbytes)) (local.get $nyL))
    (f32.store (i32.add (global.get $accL) (global.get $mb)) (f32.const 0))
    (f32.store (i32.add (i32.add (global.get $accL) (global.get $mb)) (local.get $mbytes)) (f32.const 0))
    (f32.store (global.get $accR) (local.get $dcR))
    (f32.store (i32.add (global.get $accR) (local.get $mbytes)) (local.get $nyR))
    (f32.store (i32.add (global.get $accR) (global.get $mb)) (f32.const 0))
    (f32.store (i32.add (i32.add (global.get $accR) (global.get $mb)) (local.get $mbytes)) (f32.const 0)))

  ;; The filter pair's output for the block: accumulate, both inverses, and the last B samples
  ;; of each ear (complex points m/2 .. m) interleaved into dst, scaled by 1/m. Four points of
  ;; each ear, as rows (L re, R re, -L im, -R im), are four stereo sample pairs once transposed.
  (func $pair (param $x i32) (param $hl i32) (param $hr i32) (param $dst i32)
    (local $i i32) (local $end i32) (local $o i32) (local $mb i32) (local $scale f32) (local $sv v128)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128) (local $t0 v128) (local $t1 v128)
    (call $accumulate (local.get $x) (local.get $hl) (local.get $hr))
    (call $irfft (global.get $accL) (global.get $workL))
    (call $irfft (global.get $accR) (global.get $workR))
    (local.set $mb (global.get $mb))
    (local.set $scale (f32.div (f32.const 1) (f32.convert_i32_u (global.get $m))))
    (local.set $sv (f32x4.splat (local.get $scale)))
    (local.set $i (i32.shl (global.get $m) (i32.const 1)))
    (local.set $end (i32.shl (global.get $m) (i32.const 2)))
    (local.set $o (local.get $dst))
    (block $done
      (loop $next
        (br_if $done (i32.gt_u (i32.add (local.get $i) (i32.const 16)) (local.get $end)))
        (local.set $a (f32x4.mul (local.get $sv) (v128.load (i32.add (global.get $workL) (local.get $i)))))
        (local.set $b (f32x4.mul (local.get $sv) (v128.load (i32.add (global.get $workR) (local.get $i)))))
        (local.set $c (f32x4.neg (f32x4.mul (local.get $sv) (v128.load (i32.add (i32.add (global.get $workL) (local.get $mb)) (local.get $i))))))
        (local.set $d (f32x4.neg (f32x4.mul (local.get $sv) (v128.load (i32.add (i32.add (global.get $workR) (local.get $mb)) (local.get $i))))))
        (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b)))
        (local.set $t1 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $c) (local.get $d)))
        (v128.store offset=0 (local.get $o) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t1)))
        (v128.store offset=16 (local.get $o) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t1)))
        (local.set $t0 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b)))
        (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $c) (local.get $d)))
        (v128.store offset=32 (local.get $o) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t1)))
        (v128.store offset=48 (local.get $o) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t1)))
        (local.set $o (i32.add (local.get $o) (i32.const 64)))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next)))
    ;; m = 4 has two points per ear: one by one.
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (f32.store offset=0 (local.get $o) (f32.mul (local.get $scale) (f32.load (i32.add (global.get $workL) (local.get $i)))))
        (f32.store offset=4 (local.get $o) (f32.mul (local.get $scale) (f32.load (i32.add (global.get $workR) (local.get $i)))))
        (f32.store offset=8 (local.get $o) (f32.neg (f32.mul (local.get $scale) (f32.load (i32.add (i32.add (global.get $workL) (local.get $mb)) (local.get $i))))))
        (f32.store offset=12 (local.get $o) (f32.neg (f32.mul (local.get $scale) (f32.load (i32.add (i32.add (global.get $workR) (local.get $mb)) (local.get $i))))))
        (local.set $o (i32.add (local.get $o) (i32.const 16)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next))))

  ;; n floats from src to dst (any 4-byte aligned addresses, not overlapping).
  (func $copy (export "copy") (param $dst i32) (param $src i32) (param $n i32)
    (local $k i32) (local $end i32)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.gt_u (i32.add (local.get $k) (i32.const 16)) (local.get $end)))
        (v128.store (i32.add (local.get $dst) (local.get $k)) (v128.load (i32.add (local.get $src) (local.get $k))))
        (local.set $k (i32.add (local.get $k) (i32.const 16)))
        (br $next)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $k) (local.get $end)))
        (f32.store (i32.add (local.get $dst) (local.get $k)) (f32.load (i32.add (local.get $src) (local.get $k))))
        (local.set $k (i32.add (local.get $k) (i32.const 4)))
        (br $next))))

  ;; One block: the frame (the previous block, then the one just filled) enters the delay line at
  ;; ring slot r; ready = the block through the filters at hl, hr, crossfaded from the filters at
  ;; ol, or when fade is set: ready = old + ramp (new - old).
  (func (export "block") (param $r i32) (param $hl i32) (param $hr i32) (param $fade i32) (param $ol i32) (param $or i32)
    (local $x i32) (local $k i32) (local $n i32) (local $o v128)
    (local.set $x (i32.add (global.get $fdl) (i32.mul (i32.add (local.get $r) (global.get $parts)) (global.get $spec))))
    (call $rfft (global.get $frame) (local.get $x) (global.get $workL))
    (call $copy (i32.add (global.get $fdl) (i32.mul (local.get $r) (global.get $spec))) (local.get $x) (i32.shl (global.get $m) (i32.const 1)))
    (call $copy (global.get $frame) (i32.add (global.get $frame) (i32.shl (global.get $m) (i32.const 2))) (global.get $m))
    (call $pair (local.get $x) (local.get $hl) (local.get $hr) (global.get $ready))
    (if (local.get $fade)
      (then
        (call $pair (local.get $x) (local.get $ol) (local.get $or) (global.get $old))
        (local.set $n (i32.shl (global.get $m) (i32.const 3)))
        (block $done
          (loop $next
            (br_if $done (i32.ge_u (local.get $k) (local.get $n)))
            (local.set $o (v128.load (i32.add (global.get $old) (local.get $k))))
            (v128.store (i32.add (global.get $ready) (local.get $k))
              (f32x4.add (local.get $o)
                (f32x4.mul (v128.load (i32.add (global.get $ramp) (local.get $k)))
                  (f32x4.sub (v128.load (i32.add (global.get $ready) (local.get $k))) (local.get $o)))))
            (local.set $k (i32.add (local.get $k) (i32.const 16)))
            (br $next))))))

  ;; The P partition spectra of gain * h (len taps, zero-extended to P B) into dst.
  (func (export "filter") (param $h i32) (param $len i32) (param $gain f32) (param $dst i32)
    (local $p i32) (local $i i32) (local $src i32) (local $n i32) (local $end i32) (local $g v128)
    (local.set $g (f32x4.splat (local.get $gain)))
    (local.set $end (i32.shl (global.get $m) (i32.const 3)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (global.get $parts)))
        ;; Bytes of this partition's taps: min(B, len - pB) floats, at least 0.
        (local.set $n (i32.sub (local.get $len) (i32.mul (local.get $p) (global.get $m))))
        (if (i32.gt_s (local.get $n) (global.get $m)) (then (local.set $n (global.get $m))))
        (if (i32.lt_s (local.get $n) (i32.const 0)) (then (local.set $n (i32.const 0))))
        (local.set $n (i32.shl (local.get $n) (i32.const 2)))
        (local.set $src (i32.add (local.get $h) (i32.mul (local.get $p) (i32.shl (global.get $m) (i32.const 2)))))
        (local.set $i (i32.const 0))
        (block $vDone
          (loop $v
            (br_if $vDone (i32.gt_u (i32.add (local.get $i) (i32.const 16)) (local.get $n)))
            (v128.store (i32.add (global.get $pad) (local.get $i)) (f32x4.mul (local.get $g) (v128.load (i32.add (local.get $src) (local.get $i)))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br $v)))
        (block $sDone
          (loop $s
            (br_if $sDone (i32.ge_u (local.get $i) (local.get $n)))
            (f32.store (i32.add (global.get $pad) (local.get $i)) (f32.mul (local.get $gain) (f32.load (i32.add (local.get $src) (local.get $i)))))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $s)))
        ;; Zeros from there: one by one up to a multiple of 4 floats, then four at a time.
        (block $zDone
          (loop $z
            (br_if $zDone (i32.eqz (i32.and (local.get $i) (i32.const 15))))
            (f32.store (i32.add (global.get $pad) (local.get $i)) (f32.const 0))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (br $z)))
        (block $zvDone
          (loop $zv
            (br_if $zvDone (i32.ge_u (local.get $i) (local.get $end)))
            (v128.store (i32.add (global.get $pad) (local.get $i)) (v128.const i32x4 0 0 0 0))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br $zv)))
        (call $rfft (global.get $pad) (i32.add (local.get $dst) (i32.mul (local.get $p) (global.get $spec))) (global.get $workL))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))))
