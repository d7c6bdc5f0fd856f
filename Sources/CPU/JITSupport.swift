// Public hooks the block translator (Sources/JIT) needs from the CPU. Nothing here changes how the
// interpreter runs; these are thin wrappers around internal members so that an accelerator can
// reproduce `run(budget:)` exactly.

import CPUState

extension CPU {
    /// The run loop's check at an instruction boundary: delivers a pending NMI, or a maskable
    /// interrupt when RFLAGS.IF allows (acknowledging it), exactly as `run(budget:)` does. The
    /// caller has checked that something is pending and that no interrupt shadow is active.
    /// Returns true when an interrupt was delivered (the run loop counts that as one step).
    public func acceleratorCheckExternalInterrupt() -> Bool {
        checkExternalInterrupt()
    }

    /// Decode mode for the current code segment (what `step` passes to the decoder).
    public var acceleratorDecodeMode: DecodeMode { decodeMode }

    /// True when a maskable or non-maskable interrupt would be taken at the next instruction
    /// boundary (ignoring the interrupt shadow): the condition under which `run(budget:)` calls
    /// `checkExternalInterrupt` with an effect.
    @inline(__always)
    public var acceleratorInterruptDeliverable: Bool {
        (s.pointee.nmi_pending != 0 && s.pointee.nmi_blocked == 0)
            || (interruptPending && s.pointee.rflags & FlagBit.IF != 0)
    }
}
