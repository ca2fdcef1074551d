      * Every numeric USAGE a COBOL export may hold, written by COBOL
      * itself: binary (COMP, BINARY: big-endian), COMP-5 (native),
      * COMP-3 to 18 and 31 digits, P scaling, zoned to 31 digits,
      * COMP-1 and COMP-2. usages.csv holds the same values as COBOL's
      * own DISPLAY editing wrote them: the oracle ikou is read against.
       IDENTIFICATION DIVISION.
       PROGRAM-ID. USAGES.
       ENVIRONMENT DIVISION.
       INPUT-OUTPUT SECTION.
       FILE-CONTROL.
           SELECT OUT-FILE ASSIGN TO "usages.dat"
               ORGANIZATION IS RECORD SEQUENTIAL.
           SELECT CSV-FILE ASSIGN TO "usages.csv"
               ORGANIZATION IS LINE SEQUENTIAL.
       DATA DIVISION.
       FILE SECTION.
       FD OUT-FILE.
       COPY "usagerec.cpy".
       FD CSV-FILE.
       01 CSV-REC      PIC X(400).
       WORKING-STORAGE SECTION.
       01 I            PIC S9(9) COMP.
       01 K            PIC 9(2).
       01 SEED         PIC 9(18) COMP VALUE 12345.
       01 SGN          PIC S9 VALUE 1.
       01 W18          PIC S9(18).
       01 W31          PIC S9(31).
       01 WF           PIC S9(13)V9(3).
       01 E4           PIC -9(4).
       01 E9           PIC -9(9).
       01 E18          PIC -9(18).
       01 E31          PIC -9(31).
       01 EF1          PIC -9(7).999.
       01 EF2          PIC -9(12).999.
       PROCEDURE DIVISION.
           OPEN OUTPUT OUT-FILE CSV-FILE
           PERFORM VARYING I FROM 1 BY 1 UNTIL I > 2000
               MOVE I TO R-ID
               COMPUTE K = FUNCTION MOD(I, 10)
               EVALUATE K
                 WHEN 0 PERFORM ZEROS-ALL
                 WHEN 1 MOVE -1 TO SGN PERFORM EXTREMES
                 WHEN 2 MOVE 1 TO SGN PERFORM EXTREMES
                 WHEN OTHER PERFORM DRAWS
               END-EVALUATE
               WRITE OUT-REC
               PERFORM WRITE-CSV
           END-PERFORM
           CLOSE OUT-FILE CSV-FILE
           STOP RUN.

       NEXT-SEED.
           COMPUTE SEED =
               FUNCTION MOD(SEED * 1103515 + 12345, 999999937)
           .
       NEXT-SIGN.
           PERFORM NEXT-SEED
           IF FUNCTION MOD(SEED, 2) = 0 MOVE 1 TO SGN
           ELSE MOVE -1 TO SGN END-IF
           .
       DRAWS.
           PERFORM NEXT-SIGN
           PERFORM NEXT-SEED
           COMPUTE R-B2S = FUNCTION MOD(SEED, 10000) * SGN
           PERFORM NEXT-SEED
           COMPUTE R-B2U = FUNCTION MOD(SEED, 10000)
           PERFORM NEXT-SIGN
           PERFORM NEXT-SEED
           COMPUTE R-B4S = FUNCTION MOD(SEED, 1000000000) * SGN
           PERFORM DRAW-18
           COMPUTE R-B8S = W18 * SGN
           PERFORM DRAW-18
           MOVE W18 TO R-B8U
           PERFORM NEXT-SEED
           COMPUTE R-N2U = FUNCTION MOD(SEED, 10000)
           PERFORM NEXT-SIGN
           PERFORM NEXT-SEED
           COMPUTE R-N4S = FUNCTION MOD(SEED, 1000000000) * SGN
           PERFORM DRAW-18
           COMPUTE R-N8S = W18 * SGN
           PERFORM DRAW-18
           COMPUTE R-P18 = W18 * SGN
           PERFORM DRAW-31
           COMPUTE R-P31 = W31 * SGN
           PERFORM NEXT-SIGN
           PERFORM NEXT-SEED
           COMPUTE R-PSC = FUNCTION MOD(SEED, 100000) * 100 * SGN
           PERFORM NEXT-SEED
           COMPUTE R-ZSC = FUNCTION MOD(SEED, 1000) * 1000
           PERFORM DRAW-31
           COMPUTE R-Z31 = W31 * SGN
           PERFORM NEXT-SIGN
           PERFORM NEXT-SEED
           COMPUTE WF = FUNCTION MOD(SEED, 1048576) / 8 * SGN
           COMPUTE R-C1 = WF
           PERFORM NEXT-SIGN
           PERFORM NEXT-SEED
           COMPUTE WF = FUNCTION MOD(SEED, 1000000000) * 1000
           PERFORM NEXT-SEED
           COMPUTE WF = (WF + FUNCTION MOD(SEED, 1000)) / 8 * SGN
           COMPUTE R-C2 = WF
           .
       DRAW-18.
           PERFORM NEXT-SIGN
           PERFORM NEXT-SEED
           COMPUTE W18 = FUNCTION MOD(SEED, 1000000000) * 1000000000
           PERFORM NEXT-SEED
           COMPUTE W18 = W18 + FUNCTION MOD(SEED, 1000000000)
           .
       DRAW-31.
           PERFORM NEXT-SIGN
           PERFORM NEXT-SEED
           COMPUTE W31 = FUNCTION MOD(SEED, 10000)
           PERFORM 3 TIMES
               PERFORM NEXT-SEED
               COMPUTE W31 = W31 * 1000000000
                   + FUNCTION MOD(SEED, 1000000000)
           END-PERFORM
           .
       ZEROS-ALL.
           MOVE 0 TO R-B2S R-B2U R-B4S R-B8S R-B8U R-N2U R-N4S R-N8S
                     R-P18 R-P31 R-PSC R-ZSC R-Z31 R-C1 R-C2
           .
       EXTREMES.
           COMPUTE R-B2S = 9999 * SGN
           MOVE 9999 TO R-B2U R-N2U
           COMPUTE R-B4S = 999999999 * SGN
           COMPUTE R-N4S = 999999999 * SGN
           COMPUTE R-B8S = 999999999999999999 * SGN
           COMPUTE R-N8S = 999999999999999999 * SGN
           COMPUTE R-P18 = 999999999999999999 * SGN
           MOVE 999999999999999999 TO R-B8U
           COMPUTE R-P31 = 9999999999999999999999999999999 * SGN
           COMPUTE R-Z31 = 9999999999999999999999999999999 * SGN
           COMPUTE R-PSC = 9999900 * SGN
           MOVE 999000 TO R-ZSC
           COMPUTE WF = 1048575 / 8 * SGN
           COMPUTE R-C1 = WF
           COMPUTE WF = 999999999999 / 8 * SGN
           COMPUTE R-C2 = WF
           .
       WRITE-CSV.
           MOVE SPACES TO CSV-REC
           MOVE R-B2S TO E4
           STRING R-ID DELIMITED BY SIZE "," DELIMITED BY SIZE
                  E4 DELIMITED BY SIZE INTO CSV-REC
           MOVE R-B2U TO E4
           PERFORM ADD-E4
           MOVE R-B4S TO E9
           PERFORM ADD-E9
           MOVE R-B8S TO E18
           PERFORM ADD-E18
           MOVE R-B8U TO E18
           PERFORM ADD-E18
           MOVE R-N2U TO E4
           PERFORM ADD-E4
           MOVE R-N4S TO E9
           PERFORM ADD-E9
           MOVE R-N8S TO E18
           PERFORM ADD-E18
           MOVE R-P18 TO E18
           PERFORM ADD-E18
           MOVE R-P31 TO E31
           PERFORM ADD-E31
           MOVE R-PSC TO E31
           PERFORM ADD-E31
           MOVE R-ZSC TO E31
           PERFORM ADD-E31
           MOVE R-Z31 TO E31
           PERFORM ADD-E31
           MOVE R-C1 TO EF1
           PERFORM ADD-EF1
           MOVE R-C2 TO EF2
           PERFORM ADD-EF2
           WRITE CSV-REC
           .
       ADD-E4.
           STRING FUNCTION TRIM(CSV-REC) "," E4 DELIMITED BY SIZE
               INTO CSV-REC.
       ADD-E9.
           STRING FUNCTION TRIM(CSV-REC) "," E9 DELIMITED BY SIZE
               INTO CSV-REC.
       ADD-E18.
           STRING FUNCTION TRIM(CSV-REC) "," E18 DELIMITED BY SIZE
               INTO CSV-REC.
       ADD-E31.
           STRING FUNCTION TRIM(CSV-REC) "," E31 DELIMITED BY SIZE
               INTO CSV-REC.
       ADD-EF1.
           STRING FUNCTION TRIM(CSV-REC) "," EF1 DELIMITED BY SIZE
               INTO CSV-REC.
       ADD-EF2.
           STRING FUNCTION TRIM(CSV-REC) "," EF2 DELIMITED BY SIZE
               INTO CSV-REC.
