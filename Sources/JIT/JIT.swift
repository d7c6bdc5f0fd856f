// The block translator (issue: "The JIT") lands here. Until then the interpreter runs everything.
//
// Pieces so far:
//   * `X86Assembler` (Assembler.swift): the host x86-64 encoder, checked byte for byte against nasm.
//   * `CodeCache` (CodeCache.swift): W^X executable memory (memfd dual mapping), bump allocation
//     with whole-cache flush and a generation counter, and the entry trampoline that runs a block
//     with the CPUState pointer pinned in `JITABI.statePointer` (rbp).
import CPU

/// Marker for the accelerator seam: the JIT will translate guest blocks for this CPU.
/// Stays `false` until blocks are translated and run.
public enum JITStatus {
    public static let available = false
}
