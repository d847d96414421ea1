//! Creating a container: its writable layer and record (it runs on `start`).

use super::*;

impl Pods {
    /// Create a container (its writable layer and record; it runs on `start`). An existing
    /// container of that name is returned as it is, unless `reset` asks to replace it.
    pub fn create(&self, host: &Host, req: &CreateRequest) -> Result<ContainerRecord> {
        spec::name("name", &req.name)?;
        req.overrides.validate(host_cpus())?;
        let source = match &req.source {
            Some(s) => s.clone(),
            None => Source::parse(&req.image)?,
        };
        for (_, v) in &req.overrides.env {
            host.register_secret(v);
        }
        for m in &req.overrides.mounts {
            if !Path::new(&m.source).exists() {
                return Err(PodError::invalid(
                    "mounts.source",
                    format!("{} does not exist", m.source),
                ));
            }
        }
        match store::load(&self.paths, &req.name) {
            // Not registered for cleanup: this run did not create it.
            Ok(Some(rec)) if !req.reset => return Ok(rec),
            Ok(Some(_)) | Err(PodError::CorruptRecord { .. }) if req.reset => {
                self.delete(host, &req.name)?;
            }
            Ok(_) => {}
            Err(e) => return Err(e),
        }
        if dry(
            host,
            &format!("create container {} from {}", req.name, source.transport()),
        ) {
            let img = image_cache::ensure(host, &self.paths, &source, req.pull)?;
            return Ok(self.new_record(req, &img.id, store::Storage::Overlay, Vec::new()));
        }
        // Before anything lands in the base dir: `herodo clean` finds it from here on.
        reap::register_base(host, &self.state_dir, &self.paths)?;
        let img = image_cache::ensure(host, &self.paths, &source, req.pull)?;
        let lower = self.paths.image_dir(img.hex()).join("rootfs");
        // What would fail every start (a NUL in the image's Env, a user not in the image)
        // fails now.
        bundle::check_image_config(&img.config)?;
        let process = bundle::process(&img.config, &req.name, &req.overrides);
        rootfs::user_in(&lower, &process.user)?;

        let _lock = FileLock::exclusive(&self.paths.containers_lock(), &host.cancel, LOCK_TIMEOUT)?;
        if let Some(rec) = store::load(&self.paths, &req.name)? {
            // Another herodo created it meanwhile: the seed's rule, it is returned as it is.
            return Ok(rec);
        }
        // What a herodo killed while creating or deleting a container of this name left (its
        // runtime state, processes, address, directory) is nobody's: it goes, so the new
        // container never adopts it.
        if self.has_leftovers(&req.name) {
            self.purge(host, &req.name)?;
        }
        let cdir = self.paths.container_dir(&req.name);
        store::private_dir(&cdir)?;
        let made = (|| {
            let storage = rootfs::prepare(host, &cdir, &lower, self.storage)?;
            let rec = self.new_record(req, &img.id, storage, process.warnings.clone());
            store::save(&self.paths, &rec)?;
            Ok(rec)
        })();
        match made {
            Ok(rec) => {
                self.register_cleanup(host, &rec.name);
                Ok(rec)
            }
            Err(e) => {
                let _ = rootfs::remove(host, &cdir);
                Err(e)
            }
        }
    }

    pub(super) fn new_record(
        &self,
        req: &CreateRequest,
        image_id: &str,
        storage: store::Storage,
        warnings: Vec<String>,
    ) -> ContainerRecord {
        ContainerRecord {
            name: req.name.clone(),
            image: req.image.clone(),
            image_id: image_id.to_string(),
            overrides: req.overrides.clone(),
            runtime: self.runtime.clone(),
            storage,
            attachment: None,
            created: timestamp(),
            started: None,
            pid: None,
            pid_start: None,
            monitor: None,
            keep_alive: false,
            cgroup_dirs: Vec::new(),
            owner: crate::common::owner::owner_tag().to_string(),
            warnings,
        }
    }

    /// Under `herodo test`, a container a test created is deleted after it.
    pub(super) fn register_cleanup(&self, host: &Host, name: &str) {
        let pods = self.clone();
        let n = name.to_string();
        host.resources.forget("heropod", name);
        host.resources
            .register(Resource::new("heropod", name, move |h| {
                pods.delete(h, &n).map(|_| ()).map_err(|e| e.to_string())
            }));
    }
}
