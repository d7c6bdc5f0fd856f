import CPUState

// Protected-mode segmentation: descriptor loads and checks, far control transfers with
// call gates and privilege changes, IRET, and the descriptor instructions (LAR/LSL/VERR/VERW/ARPL,
// LLDT/LTR).

extension CPU {
    func loadSegmentProtected(_ seg: UInt8, _ sel: UInt16) throws(Fault) {
        throw Fault.gp(UInt32(sel & 0xFFFC))
    }

    func farJumpProtected(_ sel: UInt16, _ off: UInt64, size: UInt8) throws(Fault) {
        throw Fault.gp(UInt32(sel & 0xFFFC))
    }

    func farCallProtected(_ sel: UInt16, _ off: UInt64, size: UInt8) throws(Fault) {
        throw Fault.gp(UInt32(sel & 0xFFFC))
    }

    func farReturnProtected(size: UInt8, extra: UInt64) throws(Fault) {
        throw Fault.gp(0)
    }

    func interruptReturnProtected(size: UInt8) throws(Fault) {
        throw Fault.gp(0)
    }

    /// LAR, LSL, VERR, VERW, ARPL, SLDT, STR, LLDT, LTR.
    func execDescriptor(_ d: inout Instr, _ ea: UInt64) throws(Fault) {
        countUnimplemented(d)
        throw Fault.undefined
    }
}
