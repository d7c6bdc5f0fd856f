import CPUState

// x87 floating point unit (D8-DF escapes, FWAIT) and FXSAVE/FXRSTOR.

extension CPU {
    func execFPU(_ d: inout Instr, _ ea: UInt64) throws(Fault) {
        countUnimplemented(d)
        throw Fault.undefined
    }

    /// FWAIT/WAIT: #NM when CR0.MP and CR0.TS are both set; raises pending x87 exceptions.
    func execFWAIT() throws(Fault) {
        let cr0 = s.pointee.cr0
        if cr0 & 0x2 != 0 && cr0 & 0x8 != 0 { throw Fault(vector: Fault.NM) }
    }
}
