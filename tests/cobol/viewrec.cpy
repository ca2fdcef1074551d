      * The record views.cob writes (COPY VIEWREC): two record types
      * through one record area (REDEFINES), a repeated group (OCCURS),
      * separate signs, 88 levels, sequence numbers in columns 1-6.
000100 01 VIEW-REC.
000200    05 V-TYPE            PIC X.
000300       88 V-PERSON       VALUE "P".
000400       88 V-ACCOUNT      VALUE "A".
000500    05 V-ID              PIC 9(8).
000600    05 V-BODY            PIC X(60).
000700    05 V-PERSON-BODY     REDEFINES V-BODY.
000800       10 P-NAME         PIC X(20).
000900       10 P-BIRTH        PIC 9(8).
001000       10 P-BIRTH-R      REDEFINES P-BIRTH.
001100          15 P-YEAR      PIC 9(4).
001200          15 P-MONTH     PIC 99.
001300          15 P-DAY       PIC 99.
001400       10 P-SCORE        PIC S9(3)V99 SIGN IS LEADING SEPARATE.
001500       10 FILLER         PIC X(26).
001600    05 V-ACCOUNT-BODY    REDEFINES V-BODY.
001700       10 A-BALANCE      OCCURS 3 TIMES INDEXED BY AX.
001800          15 A-AMOUNT    PIC S9(9)V99 USAGE COMP-3.
001900          15 A-COUNT     PIC S9(4) COMP.
002000          15 A-FLAG      PIC S9(3) SIGN TRAILING SEPARATE.
002100       10 A-RATE         PIC SV9(4) PACKED-DECIMAL.
002200       10 FILLER         PIC X(21).
002300    05 V-TAIL            PIC X(3).
