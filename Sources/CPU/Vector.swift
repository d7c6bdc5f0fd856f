import CPUState

// MMX and SSE..SSE4.2 instructions (legacy encodings). VEX forms come later.

extension CPU {
    /// Executes `d` if it is a vector instruction we implement; returns false otherwise.
    func execVector(_ d: inout Instr, _ ea: UInt64) throws(Fault) -> Bool {
        false
    }
}
