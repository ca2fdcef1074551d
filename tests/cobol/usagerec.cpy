      * The record usages.cob writes (COPY USAGEREC): the copybook
      * ikou copybook reads in tests/test_copybook.py.
       01 OUT-REC.
          05 R-ID      PIC 9(6).
          05 R-B2S     PIC S9(4) COMP.
          05 R-B2U     PIC 9(4) COMP.
          05 R-B4S     PIC S9(9) COMP.
          05 R-B8S     PIC S9(18) COMP.
          05 R-B8U     PIC 9(18) BINARY.
          05 R-N2U     PIC 9(4) COMP-5.
          05 R-N4S     PIC S9(9) COMP-5.
          05 R-N8S     PIC S9(18) COMP-5.
          05 R-P18     PIC S9(18) COMP-3.
          05 R-P31     PIC S9(31) COMP-3.
      * (P scaling is zoned here: GnuCOBOL 3.1.2 stores S9(5)PP COMP-3
      * wrongly, 00999D for -9999900; packed P is tested in Python)
          05 R-PSC     PIC S9(5)PP.
          05 R-ZSC     PIC 9(3)PPP.
          05 R-Z31     PIC S9(31).
          05 R-C1      COMP-1.
          05 R-C2      COMP-2.
