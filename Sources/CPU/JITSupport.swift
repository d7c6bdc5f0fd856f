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

    /// Executes an instruction that was decoded earlier from the bytes at RIP, exactly as `step`
    /// does after its decode: RIP = `next` while it runs, `icount`, the interrupt shadow, the TF
    /// trap, and on a fault RIP restored and the exception delivered. The caller guarantees the
    /// bytes at RIP are still the ones `d` was decoded from and that fetching them would not fault
    /// (the JIT: same page as a block entered through a checked lookup, invalidated on stores).
    /// `d` itself is left unchanged: `execute` may rewrite its copy (TZCNT/LZCNT run as BSF/BSR
    /// when the CPUID model lacks them), and the JIT executes the same decoded form again.
    public func acceleratorExecute(_ d: UnsafePointer<Instr>, next: UInt64) {
        let start = s.pointee.rip
        let tf = s.pointee.rflags & FlagBit.TF
        let shadow = s.pointee.intr_shadow
        var d = d.pointee
        do {
            try retire(&d, start: start, next: next, tf: tf, shadow: shadow)
        } catch {
            deliverFault(error, at: start)
        }
    }

    /// True when the CPUID model advertises the opcode table's `feat:` index `f` (what `execute`
    /// checks before running an instruction of an extension).
    public func acceleratorHasFeature(_ f: UInt8) -> Bool {
        f == 0 || featureMask & (1 << UInt64(f)) != 0
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
