"""``python -m seq2gen …`` = the ``seq2gen`` console command."""
from seq2gen.cli import main

if __name__ == "__main__":
    main()
