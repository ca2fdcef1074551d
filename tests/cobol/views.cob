       IDENTIFICATION DIVISION.
       PROGRAM-ID. VIEWS.
      * Writes VIEWS.DAT: 600 records of 72 bytes, no line ends, person
      * (P) and account (A) records alternating through one record area
      * (viewrec.cpy), and views.csv: each record's values as COBOL's
      * own DISPLAY editing wrote them, the oracle of the copybook test.
       ENVIRONMENT DIVISION.
       INPUT-OUTPUT SECTION.
       FILE-CONTROL.
           SELECT OUT-FILE ASSIGN TO "VIEWS.DAT"
               ORGANIZATION IS SEQUENTIAL.
           SELECT CSV-FILE ASSIGN TO "views.csv"
               ORGANIZATION IS LINE SEQUENTIAL.
       DATA DIVISION.
       FILE SECTION.
       FD OUT-FILE.
       COPY "viewrec.cpy".
       FD CSV-FILE.
       01 CSV-REC          PIC X(200).
       WORKING-STORAGE SECTION.
       01 I                PIC S9(9) COMP.
       01 K                PIC S9(4) COMP.
       01 SEED             PIC 9(18) COMP VALUE 424242.
       01 E-AMT            PIC -9(9).99.
       01 E-CNT            PIC -9(4).
       01 E-FLG            PIC -9(3).
       01 E-RATE           PIC -.9(4).
       01 E-SCORE          PIC -9(3).99.
       01 LINE-OUT         PIC X(200).
       01 P                PIC 9(4) COMP.
       PROCEDURE DIVISION.
           OPEN OUTPUT OUT-FILE CSV-FILE
           PERFORM VARYING I FROM 1 BY 1 UNTIL I > 600
               MOVE SPACES TO VIEW-REC
               MOVE I TO V-ID
               MOVE "END" TO V-TAIL
               MOVE SPACES TO LINE-OUT
               MOVE 1 TO P
               IF FUNCTION MOD(I, 2) = 1
                   PERFORM WRITE-PERSON
               ELSE
                   PERFORM WRITE-ACCOUNT
               END-IF
               WRITE VIEW-REC
               MOVE LINE-OUT TO CSV-REC
               WRITE CSV-REC
           END-PERFORM
           CLOSE OUT-FILE CSV-FILE
           STOP RUN.
       NEXT-SEED.
           COMPUTE SEED = FUNCTION MOD(SEED * 1103515245 + 12345,
                                       2147483648).
       WRITE-PERSON.
           MOVE "P" TO V-TYPE
           MOVE SPACES TO P-NAME
           STRING "SATO-" V-ID DELIMITED BY SIZE INTO P-NAME
           PERFORM NEXT-SEED
           COMPUTE P-YEAR = 1900 + FUNCTION MOD(SEED, 120)
           PERFORM NEXT-SEED
           COMPUTE P-MONTH = 1 + FUNCTION MOD(SEED, 12)
           PERFORM NEXT-SEED
           COMPUTE P-DAY = 1 + FUNCTION MOD(SEED, 28)
           PERFORM NEXT-SEED
           COMPUTE P-SCORE = (FUNCTION MOD(SEED, 199999) - 99999) / 100
           IF I = 1 MOVE -999.99 TO P-SCORE END-IF
           IF I = 3 MOVE 0 TO P-SCORE END-IF
           MOVE P-SCORE TO E-SCORE
           STRING "P;" V-ID ";" P-NAME ";" P-BIRTH ";" E-SCORE ";"
               DELIMITED BY SIZE INTO LINE-OUT WITH POINTER P.
       WRITE-ACCOUNT.
           MOVE "A" TO V-TYPE
           STRING "A;" V-ID ";" DELIMITED BY SIZE INTO LINE-OUT
               WITH POINTER P
           PERFORM VARYING K FROM 1 BY 1 UNTIL K > 3
               PERFORM NEXT-SEED
               COMPUTE A-AMOUNT(K) = (SEED - 1073741824) / 100
               PERFORM NEXT-SEED
               COMPUTE A-COUNT(K) = FUNCTION MOD(SEED, 19999) - 9999
               PERFORM NEXT-SEED
               COMPUTE A-FLAG(K) = FUNCTION MOD(SEED, 1999) - 999
               IF I = 2 MOVE -999999999.99 TO A-AMOUNT(K)
                   MOVE -9999 TO A-COUNT(K) MOVE -999 TO A-FLAG(K)
               END-IF
               IF I = 4 MOVE 999999999.99 TO A-AMOUNT(K)
                   MOVE 9999 TO A-COUNT(K) MOVE 999 TO A-FLAG(K)
               END-IF
               MOVE A-AMOUNT(K) TO E-AMT
               MOVE A-COUNT(K) TO E-CNT
               MOVE A-FLAG(K) TO E-FLG
               STRING E-AMT ";" E-CNT ";" E-FLG ";" DELIMITED BY SIZE
                   INTO LINE-OUT WITH POINTER P
           END-PERFORM
           PERFORM NEXT-SEED
           COMPUTE A-RATE = (FUNCTION MOD(SEED, 19999) - 9999) / 10000
           MOVE A-RATE TO E-RATE
           STRING E-RATE ";" DELIMITED BY SIZE INTO LINE-OUT
               WITH POINTER P.
