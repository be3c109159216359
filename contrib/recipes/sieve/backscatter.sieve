require ["vnd.dovecot.filter", "fileinto", "mailbox"];
# /etc/dovecot/sieve/backscatter.sieve, run before each user's own script (sieve_before).
# "filter" replaces the message by what the program writes: the X-Backscatter-* headers are
# then seen by the "if header" below, by the user's own script and in the stored message.
# If the program fails or times out, the message is left as it was (untagged, never lost).
filter "backscatter";
if header :is "X-Backscatter-Verdict" "spoofed" {
  fileinto :create "Junk";
}
