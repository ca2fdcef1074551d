      * A 個人住民税 収納 export as a COBOL batch writes it: LINE
      * SEQUENTIAL records (trailing blanks trimmed by the runtime),
      * header "1", data "2", trailer "9" with the record count and
      * the hash total of 収納額; amounts PIC S9(11) with the
      * compiler's native trailing sign (refunds and corrections are
      * negative). taxsum.txt holds the totals COBOL added up itself.
       IDENTIFICATION DIVISION.
       PROGRAM-ID. TAX.
       ENVIRONMENT DIVISION.
       INPUT-OUTPUT SECTION.
       FILE-CONTROL.
           SELECT OUT-FILE ASSIGN TO "ZEI.DAT"
               ORGANIZATION IS LINE SEQUENTIAL.
           SELECT SUM-FILE ASSIGN TO "taxsum.txt"
               ORGANIZATION IS LINE SEQUENTIAL.
       DATA DIVISION.
       FILE SECTION.
       FD OUT-FILE.
       COPY "zeirec.cpy".
       FD SUM-FILE.
       01 SUM-REC      PIC X(80).
       WORKING-STORAGE SECTION.
       01 I            PIC S9(9) COMP.
       01 SEED         PIC 9(18) COMP VALUE 20261202.
       01 N-PAID-NEG   PIC 9(9) VALUE 0.
       01 SUM-PAID     PIC S9(15) VALUE 0.
       01 SUM-ASSESS   PIC S9(15) VALUE 0.
       01 NEG-PAID     PIC S9(15) VALUE 0.
       01 E15          PIC -9(15).
       01 E9           PIC 9(9).
       PROCEDURE DIVISION.
           OPEN OUTPUT OUT-FILE SUM-FILE
           MOVE SPACES TO HEAD-REC
           MOVE "1" TO H-TYPE
           MOVE 20261201 TO H-DATE
           WRITE HEAD-REC
           PERFORM VARYING I FROM 1 BY 1 UNTIL I > 2000
               MOVE "2" TO D-TYPE
               COMPUTE D-ATENA = 1000000000 + I
               MOVE 2025 TO D-YEAR
               COMPUTE D-TERM = FUNCTION MOD(I, 4) + 1
               PERFORM NEXT-SEED
               COMPUTE D-ASSESS = FUNCTION MOD(SEED, 99999999) + 1000
               PERFORM NEXT-SEED
               IF FUNCTION MOD(SEED, 100) = 0
                   COMPUTE D-PAID = 0 - FUNCTION MOD(SEED, 99999999999)
                   ADD 1 TO N-PAID-NEG
                   ADD D-PAID TO NEG-PAID
               ELSE
                   IF FUNCTION MOD(SEED, 7) = 0
                       MOVE 0 TO D-PAID
                   ELSE
                       MOVE D-ASSESS TO D-PAID
                   END-IF
               END-IF
               ADD D-PAID TO SUM-PAID
               ADD D-ASSESS TO SUM-ASSESS
               WRITE DATA-REC
           END-PERFORM
           MOVE SPACES TO TRAIL-REC
           MOVE "9" TO T-TYPE
           MOVE 2000 TO T-COUNT
           MOVE SUM-PAID TO T-HASH
           WRITE TRAIL-REC
           MOVE SUM-PAID TO E15
           MOVE E15 TO SUM-REC
           WRITE SUM-REC
           MOVE SUM-ASSESS TO E15
           MOVE E15 TO SUM-REC
           WRITE SUM-REC
           MOVE NEG-PAID TO E15
           MOVE E15 TO SUM-REC
           WRITE SUM-REC
           MOVE N-PAID-NEG TO E9
           MOVE E9 TO SUM-REC
           WRITE SUM-REC
           CLOSE OUT-FILE SUM-FILE
           STOP RUN.

       NEXT-SEED.
           COMPUTE SEED =
               FUNCTION MOD(SEED * 1103515 + 12345, 999999937)
           .
