      * The record tax.cob writes (COPY ZEIREC): the copybook
      * ikou copybook reads in tests/test_copybook.py.
       01 DATA-REC.
          05 D-TYPE    PIC X.
          05 D-ATENA   PIC 9(10).
          05 D-YEAR    PIC 9(4).
          05 D-TERM    PIC 9(2).
          05 D-ASSESS  PIC S9(11).
          05 D-PAID    PIC S9(11).
       01 HEAD-REC.
          05 H-TYPE    PIC X.
          05 H-DATE    PIC 9(8).
          05 FILLER    PIC X(30).
       01 TRAIL-REC.
          05 T-TYPE    PIC X.
          05 T-COUNT   PIC 9(9).
          05 T-HASH    PIC S9(15).
          05 FILLER    PIC X(14).
