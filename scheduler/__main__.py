"""The `scheduler` process: APScheduler jobs that find work and enqueue it (`python -m scheduler`)."""

from scheduler.main import main

main()
