use strict;
use warnings;

sub fib {
    my $n = shift;
    return $n if $n < 2;
    return fib($n - 1) + fib($n - 2);
}

print fib(@ARGV ? $ARGV[0] : 36), "\n";
