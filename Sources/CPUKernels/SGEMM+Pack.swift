import CPURuntime

// Packing: op(A) and op(B) laid out as the micro-kernel's MR- and NR-wide panels, and the
// pre-packed layouts of constant weights.
extension SGEMMEngine {
  /// op(A) [m × k] laid out once for `sgemm(... prepacked:)` (constant weights: the layout every
  /// call would otherwise build): for skinny shapes (`skinnyApplies(n:k:)`), ⌈m/32⌉ blocks of
  /// k × 32 rows interleaved (zero-padded); otherwise the packed path's MR panels, one MC × KC
  /// block per (k slice, row block). The caller owns (and deallocates) the result.
  public static func prepackA(transA: Bool, m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, skinny: Bool)
    -> UnsafeMutablePointer<Float> {
    if skinny {
      let bs = transposedBlock, blocks = (m + bs - 1) / bs
      let dst = UnsafeMutablePointer<Float>.allocateAligned(count: max(16, blocks * bs * k))
      for blk in 0..<blocks {
        let rows = min(bs, m - blk * bs), out = dst + blk * bs * k
        for kk in 0..<k {
          for t in 0..<rows {
            let i = blk * bs + t
            out[kk * bs + t] = transA ? a[kk * lda + i] : a[i * lda + kk]
          }
        }
      }
      return dst
    }
    let mBlocks = (m + mc - 1) / mc, kBlocks = (k + kc - 1) / kc
    let dst = UnsafeMutablePointer<Float>.allocateAligned(count: max(16, packedAFloats(m: m, k: k)))
    for pb in 0..<kBlocks {
      let k0 = pb * kc, kcs = min(kc, k - k0)
      for ib in 0..<mBlocks {
        let i0 = ib * mc
        packA(a: a, lda: lda, transA: transA, i0: i0, mc: min(mc, m - i0), k0: k0, kc: kcs,
              into: dst + (pb * mBlocks + ib) * mc * kc)
      }
    }
    return dst
  }

  /// Where op(A)(row, col) of an m × k operand sits in `prepackA`'s packed (non-skinny) layout:
  /// MR-row panels of each MC × KC block, blocks by (k slice, row block).
  @inline(__always)
  static func packedAIndex(row: Int, col: Int, m: Int, k: Int) -> Int {
    let mBlocks = (m + mc - 1) / mc
    let sl = col / kc, pc = sl * kc, kcs = min(kc, k - pc), ib = row / mc, r = row - ib * mc
    return (sl * mBlocks + ib) * mc * kc + (r / mr) * kcs * mr + (col - pc) * mr + r % mr
  }

  /// Floats of that layout for an m × k operand (whole blocks).
  static func packedAFloats(m: Int, k: Int) -> Int { (m + mc - 1) / mc * ((k + kc - 1) / kc) * mc * kc }

  /// Packs op(A)[i0..<i0+mc, k0..<k0+kc] as MR-row panels: panel p holds kc groups of MR values.
  @inline(__always)
  static func packA(a: UnsafePointer<Float>, lda: Int, transA: Bool, i0: Int, mc: Int, k0: Int, kc: Int,
                    into dst: UnsafeMutablePointer<Float>) {
    let mr = Self.mr
    var ii = 0
    var out = dst
    while ii < mc {
      let rows = min(mr, mc - ii)
      if !transA {
        // A(i, k) = a[i*lda + k]: read MR rows walking along k.
        if rows == mr {
          let r0 = a + (i0 + ii) * lda + k0
          for kk in 0..<kc {
            for r in 0..<mr { out[kk * mr + r] = r0[r * lda + kk] }
          }
        } else {
          for kk in 0..<kc {
            for r in 0..<mr {
              out[kk * mr + r] = r < rows ? a[(i0 + ii + r) * lda + k0 + kk] : 0
            }
          }
        }
      } else {
        // A(i, k) = a[k*lda + i]: MR contiguous values per k.
        for kk in 0..<kc {
          let src = a + (k0 + kk) * lda + i0 + ii
          for r in 0..<mr { out[kk * mr + r] = r < rows ? src[r] : 0 }
        }
      }
      out += kc * mr
      ii += mr
    }
  }

  /// Packs op(B)[k0..<k0+kc, j0..<j0+cols] as one NR-wide panel: kc rows of NR values.
  @inline(__always)
  static func packB(b: UnsafePointer<Float>, ldb: Int, transB: Bool, k0: Int, kc: Int, j0: Int, cols: Int,
                    into dst: UnsafeMutablePointer<Float>) {
    let nr = Self.nr
    if !transB {
      if cols == nr {
        for kk in 0..<kc {
          let src = UnsafeRawPointer(b + (k0 + kk) * ldb + j0)
          let d = UnsafeMutableRawPointer(dst + kk * nr)
          d.storeBytes(of: src.loadUnaligned(as: SIMD16<Float>.self), as: SIMD16<Float>.self)
          (d + 64).storeBytes(of: (src + 64).loadUnaligned(as: SIMD16<Float>.self), as: SIMD16<Float>.self)
        }
      } else {
        for kk in 0..<kc {
          let src = b + (k0 + kk) * ldb + j0
          for j in 0..<nr { dst[kk * nr + j] = j < cols ? src[j] : 0 }
        }
      }
    } else {
      // B(k, j) = b[j*ldb + k]
      for j in 0..<nr {
        if j < cols {
          let src = b + (j0 + j) * ldb + k0
          for kk in 0..<kc { dst[kk * nr + j] = src[kk] }
        } else {
          for kk in 0..<kc { dst[kk * nr + j] = 0 }
        }
      }
    }
  }
}

extension UnsafeMutablePointer where Pointee == Float {
  /// A 64-byte aligned, zero-filled allocation (`HostMemory.allocateZeroed`; free with `deallocate()`).
  static func allocateAligned(count: Int) -> UnsafeMutablePointer<Float> {
    let raw = HostMemory.allocateZeroed(byteCount: count * 4)
    return raw.bindMemory(to: Float.self, capacity: max(16, count))
  }
}
