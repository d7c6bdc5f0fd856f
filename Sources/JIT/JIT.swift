// The block translator (issue: "The JIT").
//
// Pieces:
//   * `X86Assembler` (Assembler.swift): the host x86-64 encoder, checked byte for byte against nasm.
//   * `CodeCache` (CodeCache.swift): W^X executable memory (memfd dual mapping), bump allocation
//     with whole-cache flush and a generation counter, and the entry trampoline that runs a block
//     with the CPUState pointer pinned in `JITABI.statePointer` (rbp).
//   * `JITEngine` (JITEngine.swift): the run loop replacing `CPU.run(budget:)`, block table,
//     chaining, jump cache, code-write tracking and invalidation.
//   * `Translator` (Translator*.swift): block formation with the shared opcode table and host code
//     generation (native integer subset, interpreter helper calls for everything else).
import CPU

/// Marker for the accelerator seam: `JITEngine` translates guest blocks for a CPU.
public enum JITStatus {
    public static let available = true
}
