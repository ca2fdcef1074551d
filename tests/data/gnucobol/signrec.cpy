      * OUT-REC of signs.cob (the record signs.dat and ibm.dat hold):
      * the copybook tests/test_copybook.py imports.
       01 OUT-REC.
          05 F-TRAIL   PIC S9(7).
          05 F-LEAD    PIC S9(7) SIGN LEADING.
          05 F-TSEP    PIC S9(7) SIGN TRAILING SEPARATE.
          05 F-LSEP    PIC S9(7) SIGN LEADING SEPARATE.
